"""Tortoise models of Loket's core domain, one module per concept."""

MODEL_MODULES = [
    "models.regions",
    "models.providers",
    "models.accounts",
    "models.households",
    "models.consents",
    "models.requests",
    "models.services",
    "models.searches",
    "models.integrators",
    "models.access_log",
    "models.jobs",
    "models.privacy",
]
