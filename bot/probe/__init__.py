"""Health probing: profiles (what healthy looks like), the concurrent engine, and its results."""

from bot.probe.coalesce import Coalescer, probe_key
from bot.probe.engine import Prober
from bot.probe.models import Drift, EndpointResult, ServiceReport, reports_to_json
from bot.probe.profiles import Profile, load_profile
from bot.probe.targets import AdHocService, TargetError, resolve_targets

__all__ = ["AdHocService", "Coalescer", "Drift", "EndpointResult", "Prober", "Profile", "ServiceReport",
           "TargetError", "load_profile", "probe_key", "reports_to_json", "resolve_targets"]
