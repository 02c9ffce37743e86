"""What the dashboard's pages read: lists filtered, sorted, counted and paged in SQL, and
the details behind them. One module per page area, named after ``dashboard/app_pages``.

Every function returns plain values (``Table`` rows as named tuples, frozen dataclasses),
never ORM objects, so results can be cached and kept between Streamlit reruns. Times come
back as the company's wall-clock time. Lists that can be exported in full have a twin
``*_rows`` generator that streams every matching row in the same order and shape.
"""
