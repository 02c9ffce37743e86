# One image, three services: the command picks one (callback-service, dashboard, sandbox,
# or any other linkpay-desk command such as init-db, backup, doctor).
#   docker build -t linkpay-desk .
#   docker run --rm -e LINKPAY_DATABASE_URL=postgresql+psycopg://… linkpay-desk doctor
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    LINKPAY_DATA_DIR=/var/lib/linkpay-desk

# pg_dump for `linkpay-desk backup` on PostgreSQL.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/linkpay-desk --create-home linkpay

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY callback_service ./callback_service
COPY dashboard ./dashboard
COPY sandbox ./sandbox
COPY .streamlit ./.streamlit
COPY deploy/entrypoint.sh /usr/local/bin/linkpay-entrypoint
RUN pip install ".[postgres]" && chmod 0755 /usr/local/bin/linkpay-entrypoint

USER linkpay
VOLUME ["/var/lib/linkpay-desk"]
EXPOSE 8000 8501 8020
ENTRYPOINT ["linkpay-entrypoint"]
CMD ["callback-service"]
