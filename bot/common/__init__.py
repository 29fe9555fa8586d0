"""What every package uses and that depends on nothing of the bot's: errors, redaction, JSON logging
with correlation ids, Prometheus metrics, the bounded job pool, and reading PostgreSQL URLs and
connection failures (``pgconnect``: the db playbook and ``/db`` both connect to a service's database).
It imports nothing from ``bot`` outside itself.
"""
