"""E-invoices: EN 16931 documents written as Peppol BIS Billing 3.0 UBL and checked by rule id.

``model`` holds what an invoice or credit note carries, ``ubl`` writes it as UBL 2.1 XML and
``rules`` checks UBL XML against the EN 16931 and Peppol BIS business rules that apply to it.
"""
