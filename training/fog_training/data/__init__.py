"""Datasets: the Zarr episode store, bag -> dataset conversion and the Push-T collector.

Only :mod:`episode_store` is imported eagerly (numpy + zarr); the converters pull in rosbags,
OpenCV or gym-pusht and are imported by their CLI verbs.
"""

from fog_training.data.episode_store import (
    SCHEMA_VERSION,
    EpisodeStore,
    IncompleteStoreError,
    SchemaVersionError,
)
from fog_training.data.episode_writer import EpisodeWriter

__all__ = [
    "SCHEMA_VERSION",
    "EpisodeStore",
    "EpisodeWriter",
    "IncompleteStoreError",
    "SchemaVersionError",
]
