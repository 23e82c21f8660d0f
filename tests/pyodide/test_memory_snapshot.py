"""Memory snapshots under Node (``pyodide_host/build/snapshot.py`` + ``pyodide_host/node/snapshot.mjs``):
made from a copy of the dist directory, restored the way the page's worker restores them
(shared libraries re-instantiated at their old bases, site-packages written back), then a
kernel session runs cells that need msgspec (a C extension inside the snapshot), a module the
snapshot did not import, fresh randomness and os.urandom."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pyodide_host.build.node_harness import node_executable
from pyodide_host.build.snapshot import (
    SIDECAR,
    SNAPSHOT_FILE,
    SNAPSHOT_SCRIPT,
    SnapshotError,
    make_memory_snapshot,
)

pytestmark = pytest.mark.timeout(900)

CODE = """\
import msgspec, random, os, fractions
class P(msgspec.Struct):  # msgspec's own data (NODEFAULT) where its code looks for it after a restore
    x: int
    y: int = 0
assert msgspec.field().default is msgspec.NODEFAULT and P(1).y == 0
enc = msgspec.json.encode({"a": [1, 2.5, "x"]})
str(fractions.Fraction(1, 3) * 3) + " " + enc.decode() + " " + repr(random.random()) + " " + os.urandom(4).hex()
"""


@pytest.fixture(scope="module")
def snapshot_dist(pyodide_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("snapdist") / "pyodide"
    shutil.copytree(pyodide_dist, dist)
    info = make_memory_snapshot(dist, imports=["statistics", "no_such_module_here"])
    assert info.path == dist / SNAPSHOT_FILE and info.compressed_bytes == info.path.stat().st_size
    assert "statistics" in info.imported and "no_such_module_here" in info.skipped
    assert {"amphikernel", "msgspec"} <= set(info.packages)
    return dist


def boot(dist: Path, *, snapshot: bool, file: Path | None = None, code: str = CODE) -> dict:
    node = node_executable()
    assert node is not None
    args = [node, str(SNAPSHOT_SCRIPT), "boot", "--dist", str(dist), "--code", code]
    if snapshot:
        args += ["--snapshot", str(file or dist / SNAPSHOT_FILE)]
    env = {**os.environ, "AMPHI_SNAPSHOT_CACHE": "off"}  # the general path (the cache: test_snapshot_cache.py)
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, check=False, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {**json.loads(proc.stdout), "stderr": proc.stderr}


def result_text(frames: list[str]) -> str:
    output = next(f for f in frames if "cell-output" in f and "text/plain" in f)
    return output.split("text/plain", 1)[1]


def test_sidecar_describes_the_container(snapshot_dist: Path) -> None:
    sidecar = json.loads((snapshot_dist / SIDECAR).read_text())
    data = gzip.decompress((snapshot_dist / SNAPSHOT_FILE).read_bytes())
    assert data[:8] == b"AMPHISNP" and len(data) == sidecar["raw_bytes"]
    lock = json.loads((snapshot_dist / "pyodide-lock.json").read_text())
    assert sidecar["packages"]["msgspec"]["sha256"] == lock["packages"]["msgspec"]["sha256"]
    header = json.loads(data[16 : 16 + int.from_bytes(data[12:16], "little")])
    assert [d["path"].rsplit("/", 1)[-1].split(".")[0] for d in header["dylibs"]] == ["_core"]  # msgspec's
    assert "pyodide_host.session" in header["modules"] and "msgspec._core" in header["modules"]


def test_a_restored_runtime_runs_cells_with_fresh_randomness(snapshot_dist: Path) -> None:
    first = boot(snapshot_dist, snapshot=True)
    second = boot(snapshot_dist, snapshot=True)
    texts = [result_text(r["frames"]) for r in (first, second)]
    for text in texts:
        assert '1 {"a":[1,2.5,"x"]} ' in text, text
    assert first["snapshot"] and first["first_run_ms"] > 0
    # random reseeded and os.urandom working: two restores of one image differ.
    assert texts[0] != texts[1]


def test_restored_site_packages_are_readable_files(snapshot_dist: Path) -> None:
    """The files come back owning their bytes: sources of imported modules readable, a file
    rewritable."""
    code = (
        "import inspect, os, lifecycle.protocol\n"
        "f = lifecycle.protocol.__file__\n"
        "src = inspect.getsource(lifecycle.protocol)\n"
        "open(f, 'a').write('\\n# appended\\n')\n"
        "(len(src) > 1000, open(f).read().endswith('# appended\\n'), os.path.getsize(f) == len(open(f, 'rb').read()))"
    )
    result = boot(snapshot_dist, snapshot=True, code=code)
    assert result["snapshot"], result["stderr"][-2000:]
    assert "(True, True, True)" in result_text(result["frames"])


def test_a_broken_snapshot_falls_back_to_a_normal_boot(snapshot_dist: Path, tmp_path: Path) -> None:
    """Cut short after its header: the restore has begun when the last bytes are missing."""
    data = (snapshot_dist / SNAPSHOT_FILE).read_bytes()
    cut = tmp_path / SNAPSHOT_FILE
    cut.write_bytes(data[: len(data) // 2] + data[-8:])  # the gzip trailer kept: its size is right
    result = boot(snapshot_dist, snapshot=True, file=cut)
    assert not result["snapshot"] and result["fallback"], result
    assert "booting without it" in result["stderr"]
    assert '1 {"a":[1,2.5,"x"]} ' in result_text(result["frames"])


def test_a_snapshot_of_the_same_site_is_made_again_alike(snapshot_dist: Path, tmp_path: Path) -> None:
    """Same runtime, lock and imports: the same size, and the memory images differ only in
    the few hundred bytes libc's ChaCha20 state and clock readings occupy."""
    again = tmp_path / "pyodide"
    shutil.copytree(snapshot_dist, again)
    make_memory_snapshot(again, imports=["statistics", "no_such_module_here"])
    a = gzip.decompress((snapshot_dist / SNAPSHOT_FILE).read_bytes())
    b = gzip.decompress((again / SNAPSHOT_FILE).read_bytes())
    assert len(a) == len(b)
    differing = sum(1 for x, y in zip(a, b) if x != y)
    assert differing < 1024, differing


def test_not_a_runtime_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="not a Pyodide runtime folder"):
        make_memory_snapshot(tmp_path)
