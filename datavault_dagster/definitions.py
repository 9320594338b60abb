"""Dagster entry point, as `create-dagster project` generates it: everything under defs/ is autoloaded."""

from pathlib import Path

import dagster as dg

from .services.settings import offline_environment

offline_environment()


@dg.definitions
def defs() -> dg.Definitions:
    """All DataVault definitions: assets, checks, sensors, jobs and resources from defs/."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
