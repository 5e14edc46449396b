"""Shared fixtures: the data in ../shared/data, a tiny saved model, a temp output folder."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("STREAMCOLOR_DATA", REPO.parent / "shared" / "data"))


def data_file(relative: str) -> Path:
    """A file under ../shared/data; the test is skipped, naming it, when it is absent."""
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"test data {path} is absent (../shared/data is not beside the repository)")
    return path


@pytest.fixture
def chaplin() -> Path:
    return data_file("video/film/chaplin.mp4")


@pytest.fixture
def kodak() -> list[Path]:
    return sorted(data_file("eval/kodak24").glob("*.png"))


@pytest.fixture(autouse=True)
def no_error_logs(caplog: pytest.LogCaptureFixture):
    """Fail a test that logged at ERROR or above."""
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, f"ERROR logs: {[r.getMessage() for r in errors]}"
