"""The receivables ledger: every movement of an invoice's open balance, and the figures
pages, reports and exports read from it."""
