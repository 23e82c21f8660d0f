"""Fixtures of the fuzz tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A scratch folder on tmpfs (``/dev/shm``) when there is one: the readers' fuzz writes
    ten thousand files."""
    if Path("/dev/shm").is_dir():
        folder = Path(tempfile.mkdtemp(prefix="amphi-fuzz-", dir="/dev/shm"))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    else:  # pragma: no cover - not Linux
        yield tmp_path
