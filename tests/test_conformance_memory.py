"""The whole conformance kit (``omniq.testing``) on the in-process ``memory`` backend."""

from __future__ import annotations

from typing import Any

import pytest
from omniq.testing import ConformanceTests


class MemoryBackend:
    """The kit's fixtures for the memory backend (also used by other worker types' tests)."""

    @pytest.fixture
    def backend_type(self) -> str:
        return "memory"

    @pytest.fixture
    def backend_options(self) -> dict[str, Any]:
        return {}

    @pytest.fixture
    def store_scope(self) -> str:
        return "instance"  # each memory component keeps its own data


class TestMemoryConformance(MemoryBackend, ConformanceTests):
    """Every contract of the kit on the memory backend."""
