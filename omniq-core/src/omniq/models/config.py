"""Seed 004 spelling: ``from omniq.models.config import OmniQConfig, TaskQueueConfig``."""

from __future__ import annotations

from ._config import (
    ComponentConfig,
    EventStoreConfig,
    OmniQConfig,
    ResultStoreConfig,
    TaskQueueConfig,
    WorkerConfig,
)

__all__ = ["ComponentConfig", "EventStoreConfig", "OmniQConfig", "ResultStoreConfig",
           "TaskQueueConfig", "WorkerConfig"]
