"""``/logs`` and ``chatops logs``: a service's Railway logs, folded, counted and redacted."""
