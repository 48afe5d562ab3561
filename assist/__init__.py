"""Frontline Assist core: settings, schemas and the one answer pipeline every surface calls."""

import os

# Questions are personal data: Haystack's usage telemetry must never leave the city's machines.
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

__version__ = "0.1.0"
