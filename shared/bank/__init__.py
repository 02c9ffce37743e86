"""Bank statements: parsing camt.053/camt.054/FiDAViSta into one normalised form
(``parse``), importing them into the database (``importing``), and the references a
customer's transfer carries back to an invoice (``references``)."""
