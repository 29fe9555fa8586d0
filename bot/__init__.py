"""chatops: an incident-response Slack bot for services deployed on Railway."""

# The one place the version is written: pyproject.toml reads it ([tool.setuptools.dynamic]), and
# ``chatops --version``, ``/health``, ``chatops doctor`` and the User-Agent all show it.
__version__ = "0.1.0"
