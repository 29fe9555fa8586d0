"""Alerts from the monitors teams already run (Alertmanager, UptimeRobot, anything that can POST JSON)."""
