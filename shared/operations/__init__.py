"""Running, installing, seeding, diagnosing and maintaining LinkPay Desk: the
``linkpay-desk`` command, the service launcher, schema migrations, demo data and demo mail,
the doctor, backups and the secret key's rotation and recovery. The domain in shared/ never
imports from here; these modules build on it."""
