"""Shared pytest setup: factory fixtures are registered once here."""

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

pytest_plugins = [
    "tests.factories.scannet",
    "tests.factories.lerobot",
    "tests.factories.mot",
    "tests.factories.tiny_model",
]
