"""chatops: an incident-response Slack bot for services deployed on Railway."""
