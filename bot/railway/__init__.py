"""Railway's GraphQL API: the client, its documents, models and typed errors."""

from bot.railway.client import RailwayClient, retry_after_seconds
from bot.railway.documents import ALL_DOCUMENTS, MUTATIONS
from bot.railway.errors import (
    RailwayError,
    RailwayMalformedAnswer,
    RailwayNameNotFound,
    RailwayNotAuthorized,
    RailwayNotFound,
    RailwayOutsideProjectToken,
    RailwayProjectTokenNotFound,
    RailwayRateLimited,
    RailwayServerError,
    RailwayTimeout,
)
from bot.railway.models import (
    BackupSchedule,
    Deployment,
    LogLine,
    Metrics,
    MetricSeries,
    SecretVariables,
    ServiceIds,
    VolumeBackup,
    VolumeInstance,
    format_time,
    parse_time,
)

__all__ = [
    "ALL_DOCUMENTS",
    "MUTATIONS",
    "BackupSchedule",
    "Deployment",
    "LogLine",
    "MetricSeries",
    "Metrics",
    "RailwayClient",
    "RailwayError",
    "RailwayMalformedAnswer",
    "RailwayNameNotFound",
    "RailwayNotAuthorized",
    "RailwayNotFound",
    "RailwayOutsideProjectToken",
    "RailwayProjectTokenNotFound",
    "RailwayRateLimited",
    "RailwayServerError",
    "RailwayTimeout",
    "SecretVariables",
    "ServiceIds",
    "VolumeBackup",
    "VolumeInstance",
    "format_time",
    "parse_time",
    "retry_after_seconds",
]
