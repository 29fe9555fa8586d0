"""Rendering: domain results (probe reports, findings) → Slack Block Kit and terminal text."""
