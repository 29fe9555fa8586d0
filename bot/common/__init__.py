"""What every package uses and that depends on nothing of the bot's: errors, redaction, JSON logging
with correlation ids, Prometheus metrics and the bounded job pool. It imports nothing from ``bot``
outside itself.
"""
