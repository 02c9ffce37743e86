"""Revision 0029: customers gain their country, taken from the VAT number they have (what
the app inferred until then: EL is Greece, XI Northern Ireland), Latvia for the others."""

from alembic import command as alembic_command
from sqlalchemy import inspect, text

from shared.db import get_engine
from shared.operations.migrate import alembic_config, upgrade_to_head


def test_existing_customers_get_the_country_their_vat_number_names(any_db):
    config = alembic_config(any_db)
    with get_engine(any_db).begin() as connection:
        config.attributes["connection"] = connection
        alembic_command.downgrade(config, "0028")
        for name, vat_number in (
            ("Kalns SIA", "LV40003245752"),
            ("Kask OÜ", "ee100931558"),
            ("Elia AE", "EL094259216"),
            ("Belfast Ltd", "XI123456789"),
            ("Anna", ""),
            ("Typed", "12345"),
        ):
            connection.execute(
                text(
                    "INSERT INTO customer (name, search_name, registration_number, vat_number,"
                    " email, cc_emails, address, language, created_at, updated_at,"
                    " payment_terms_days, peppol_scheme, peppol_id, sending_method)"
                    " VALUES (:name, :name, '', :vat, '', '', '', 'lv', CURRENT_TIMESTAMP,"
                    " CURRENT_TIMESTAMP, 14, '', '', 'email')"
                ),
                {"name": name, "vat": vat_number},
            )
    columns = {c["name"] for c in inspect(get_engine(any_db)).get_columns("customer")}
    assert "country" not in columns

    upgrade_to_head(any_db)
    with get_engine(any_db).connect() as connection:
        countries = dict(connection.execute(text("SELECT name, country FROM customer")).all())
    assert countries == {
        "Kalns SIA": "LV",
        "Kask OÜ": "EE",
        "Elia AE": "GR",
        "Belfast Ltd": "GB",
        "Anna": "LV",
        "Typed": "LV",
    }
