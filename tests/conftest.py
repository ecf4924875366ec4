"""Shared test helpers: the bundled data, so the tests run from a clone without ../shared."""

from pathlib import Path

import pytest

from deepmimic_mocap.assets import DATA_DIR

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The package's bundled data folder (characters, controllers, motions, cmu, locomujoco)."""
    return DATA_DIR


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """Small test-only files, including the malformed-input corpus."""
    return FIXTURES
