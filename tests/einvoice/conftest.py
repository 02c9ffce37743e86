"""The official OASIS UBL 2.1 schemas, shipped offline by a dev dependency."""

from importlib.resources import files

import pytest
from lxml import etree

SCHEMA_DIR = files("peppol") / "schema" / "maindoc"


@pytest.fixture(scope="session")
def ubl_schemas() -> dict[str, etree.XMLSchema]:
    return {
        root: etree.XMLSchema(etree.parse(str(SCHEMA_DIR / f"UBL-{root}-2.1.xsd")))
        for root in ("Invoice", "CreditNote")
    }


def schema_errors(schemas: dict[str, etree.XMLSchema], xml: bytes) -> list[str]:
    tree = etree.fromstring(xml)
    schema = schemas[etree.QName(tree).localname]
    if schema.validate(tree):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]
