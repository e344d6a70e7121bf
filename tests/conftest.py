"""Shared fixtures. Helpers (configs, the command line, sweeps, hand-made results) are in the helpers package."""

from __future__ import annotations

import pytest

from helpers.configs import QUICK


@pytest.fixture
def quick() -> list[str]:
    """The overrides of a quick run (:data:`helpers.configs.QUICK`), a list of the test's own to extend."""
    return list(QUICK)
