"""Prometheus metrics served on ``GET /metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("chatops_requests_total", "Slack requests received", ["kind", "name"])
ACKS = Counter("chatops_acks_total", "Slack requests acknowledged", ["kind", "name"])
ACK_SECONDS = Histogram(
    "chatops_ack_seconds", "Time from request arrival to ack", ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0),
)
UNAUTHENTICATED = Counter("chatops_unauthenticated_requests_total",
                          "Requests rejected for a missing, wrong or stale signature")
REJECTED = Counter("chatops_rejected_requests_total",
                   "Signed requests refused because their body or a field is malformed", ["reason"])
REPLAYS = Counter("chatops_replayed_requests_total", "Signed requests seen twice (same trigger_id)")
ERRORS = Counter("chatops_errors_total", "Errors while handling requests", ["where"])
JOBS_QUEUED = Gauge("chatops_jobs_queued", "Jobs waiting in the pool")
JOBS_REJECTED = Counter("chatops_jobs_rejected_total", "Jobs refused because the pool was full", ["name"])
JOB_ERRORS = Counter("chatops_job_errors_total", "Jobs that raised", ["name"])
JOB_SECONDS = Histogram("chatops_job_seconds", "Job run time", ["name"],
                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300))
SLACK_CALLS = Counter("chatops_slack_calls_total", "Slack Web API calls", ["method", "outcome"])
SLACK_POST_FAILURES = Counter(
    "chatops_slack_post_failures_total",
    "Bot posts and edits that did not land where they were asked, after retries: what, why (dm, private, "
    "not_in_channel, archived, unavailable, refused) and the fallback (moved, trimmed, thread, none)",
    ["what", "failure", "fallback"])
CHARTS = Counter("chatops_charts_total", "Charts rendered by the chart worker", ["outcome"])
CHART_SECONDS = Histogram("chatops_chart_seconds", "Chart render time in the worker, as the bot waits for it",
                          buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
HOME_PUBLISHES = Counter("chatops_home_publishes_total", "App Home views published", ["outcome"])
RAILWAY_CALLS = Counter("chatops_railway_calls_total", "Railway API calls", ["operation", "outcome"])
AUDIT_BACKLOG = Gauge("chatops_audit_backlog", "Audit rows queued and not yet written")
AUDIT_WRITTEN = Counter("chatops_audit_rows_written_total", "Audit rows written as received")
AUDIT_REPAIRED = Counter("chatops_audit_rows_repaired_total",
                         "Audit rows the database refused, written again coerced to their columns")
AUDIT_SPILLED = Counter("chatops_audit_rows_spilled_total",
                        "Audit rows written to the spill file instead of the database")
AUDIT_WRITE_FAILURES = Counter("chatops_audit_write_failures_total",
                               "Audit batch writes that failed while the database was unreachable")
MONITOR_ROUNDS = Counter("chatops_monitor_rounds_total", "Monitor rounds started")
MONITOR_LATE_ROUNDS = Counter("chatops_monitor_late_rounds_total",
                              "Monitor rounds that ran past their interval (the next ones are skipped, not stacked)")
MONITOR_SKIPPED = Counter("chatops_monitor_skipped_probes_total",
                          "Services not probed in a round because their previous probe was still running")
MONITOR_PROBES = Counter("chatops_monitor_probes_total", "Monitor probes by kind (watch: readiness and live "
                         "database checks; full: the whole profile)", ["kind"])
MONITOR_OWNED = Gauge("chatops_monitor_owned_services", "Services this replica's monitor watches (its share)")
HTTP_REFUSED = Counter("chatops_http_connections_refused_total",
                       "Connections answered 503 because the server had its maximum open")
HTTP_BODY_TIMEOUTS = Counter("chatops_http_body_timeouts_total", "Requests whose body did not arrive in time (408)")
BOOKKEEPING_FAILURES = Counter("chatops_bookkeeping_failures_total",
                               "Bookkeeping writes (probe history) given up after retries", ["what"])
