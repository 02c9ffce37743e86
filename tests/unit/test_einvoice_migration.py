"""Revision 0024: customers gain their e-invoice address and sending method, e-mails the
mark that they carried the e-invoice; existing rows keep what they had."""

from alembic import command as alembic_command
from sqlalchemy import inspect, text

from shared.db import get_engine
from shared.operations.migrate import alembic_config, upgrade_to_head


def test_the_einvoice_migration_keeps_customers_and_goes_back_cleanly(any_db):
    def columns(table: str) -> set[str]:
        return {c["name"] for c in inspect(get_engine(any_db)).get_columns(table)}

    added = {"peppol_scheme", "peppol_id", "sending_method"}
    config = alembic_config(any_db)
    with get_engine(any_db).begin() as connection:
        config.attributes["connection"] = connection
        alembic_command.downgrade(config, "0024-1")
        connection.execute(
            text(
                "INSERT INTO customer (name, search_name, registration_number, vat_number, email,"
                " cc_emails, address, language, created_at, updated_at) VALUES ('SIA Kalns',"
                " 'sia kalns', '40003245752', '', '', '', '', 'lv', CURRENT_TIMESTAMP,"
                " CURRENT_TIMESTAMP)"
            )
        )
    assert not added & columns("customer")
    assert "einvoice_attached" not in columns("message_log")

    upgrade_to_head(any_db)
    with get_engine(any_db).connect() as connection:
        kept = connection.execute(
            text("SELECT name, peppol_scheme, peppol_id, sending_method FROM customer")
        ).one()
    assert tuple(kept) == ("SIA Kalns", "", "", "email")
    assert "einvoice_attached" in columns("message_log")

    with get_engine(any_db).begin() as connection:
        config.attributes["connection"] = connection
        alembic_command.downgrade(config, "0024-1")
    assert not added & columns("customer")
    upgrade_to_head(any_db)
