"""The decompressed-snapshot cache of ``pyodide_host/node/snapshot.mjs boot``: a boot that
decompressed the container leaves it in the cache folder (named by the compressed file's
SHA-256, written under a temporary name and renamed), the next boot reads it instead and runs
the same cell to the same result; a damaged or deleted cache entry is ignored; ``off`` writes
nothing; the folder keeps the 4 most recently used containers."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pyodide_host.build.node_harness import node_executable
from pyodide_host.build.snapshot import SNAPSHOT_FILE, SNAPSHOT_SCRIPT, make_memory_snapshot

pytestmark = pytest.mark.timeout(900)

CODE = """\
import msgspec, random, os
class P(msgspec.Struct):
    x: int
    y: int = 0
"ok %d %s %d %s" % (P(1).y, msgspec.json.encode([1, 2]).decode(), len(os.urandom(8)), 0 <= random.random() < 1)
"""
EXPECTED = "ok 0 [1,2] 8 True"


@pytest.fixture(scope="module")
def snapshot_dist(pyodide_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("snapcache") / "pyodide"
    shutil.copytree(pyodide_dist, dist)
    make_memory_snapshot(dist)
    return dist


def boot(dist: Path, cache: str, snapshot: Path | None = None) -> dict:
    node = node_executable()
    assert node is not None
    args = [node, str(SNAPSHOT_SCRIPT), "boot", "--dist", str(dist), "--code", CODE]
    args += ["--snapshot", str(snapshot or dist / SNAPSHOT_FILE)]
    env = {**os.environ, "AMPHI_SNAPSHOT_CACHE": cache}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["snapshot"] and not result["fallback"], proc.stderr[-3000:]
    output = next(f for f in result["frames"] if "cell-output" in f and "text/plain" in f)
    return {"cached": result["cached"], "text": output.split("text/plain", 1)[1]}


def entry(dist: Path, folder: Path) -> Path:
    return folder / (hashlib.sha256((dist / SNAPSHOT_FILE).read_bytes()).hexdigest() + ".bin")


def test_the_second_boot_reads_the_cache_and_runs_alike(snapshot_dist: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    first = boot(snapshot_dist, str(folder))
    cached = entry(snapshot_dist, folder)
    assert not first["cached"] and cached.is_file()
    assert cached.read_bytes() == gzip.decompress((snapshot_dist / SNAPSHOT_FILE).read_bytes())
    assert sorted(p.name for p in folder.iterdir()) == [cached.name]  # no temporary file left
    second = boot(snapshot_dist, str(folder))
    assert second["cached"]
    assert EXPECTED in first["text"] and EXPECTED in second["text"], (first, second)


def test_a_damaged_or_deleted_entry_is_ignored(snapshot_dist: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    boot(snapshot_dist, str(folder))
    cached = entry(snapshot_dist, folder)
    cached.write_bytes(cached.read_bytes()[:-100])  # cut short: not its size
    again = boot(snapshot_dist, str(folder))
    assert not again["cached"] and EXPECTED in again["text"]
    assert cached.stat().st_size == len(gzip.decompress((snapshot_dist / SNAPSHOT_FILE).read_bytes()))  # rewritten
    cached.unlink()
    assert not boot(snapshot_dist, str(folder))["cached"] and cached.is_file()


def test_off_writes_nothing(snapshot_dist: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    for value in ("off", "0"):
        result = boot(snapshot_dist, value)
        assert not result["cached"] and EXPECTED in result["text"]
    assert not folder.exists()


def test_the_folder_keeps_the_four_most_recently_used(snapshot_dist: Path, tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    folder.mkdir()
    old = [folder / (f"{i:x}" * 64)[:64] for i in range(1, 6)]
    for i, path in enumerate(old):
        path = path.with_suffix(".bin")
        path.write_bytes(b"x")
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
    (folder / "notes.txt").write_text("not ours")
    boot(snapshot_dist, str(folder))
    left = sorted(p.name for p in folder.iterdir())
    newest_old = sorted(p.with_suffix(".bin").name for p in old[-3:])
    assert left == sorted([entry(snapshot_dist, folder).name, *newest_old, "notes.txt"]), left
