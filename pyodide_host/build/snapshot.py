"""Pyodide memory snapshots of a site's runtime (:func:`make_memory_snapshot`), made under
Node at build time by ``pyodide_host/node/snapshot.mjs`` and restored by the page's worker
(``web/src/worker/memory-snapshot.ts``) instead of booting Python and importing our packages.

What a snapshot holds: the WebAssembly memory of a Pyodide that has loaded ``amphikernel``
(with msgspec) and the lock packages asked for, and imported ``pyodide_host.session``, the
modules a kernel imports when it starts and runs a first cell (found by one ordinary boot in
the same Node process, ``discover``), and the modules asked for (the notebook's imports that
the site can provide); plus the shared libraries loaded (they are instantiated again at their
old memory and table base before the memory is restored) and the files of ``site-packages``
(the file system lives in JavaScript, outside the memory).  Nothing runs in it: no kernel, no
event loop, no open file beyond 0-2 (checked), the garbage collector disabled until the
restorer has put the libraries back.

Determinism: the same runtime, lock and imports give the same bytes.  ``PYTHONHASHSEED`` is
fixed from the lock's hash (string hashes, hence dict and set layouts, are the same in every
run; the variable is then removed from ``os.environ``), imports happen in a fixed order, the
gzip stream has no name and no timestamp.  What stays the same in every page restored from
it, hence must be renewed on restore: the ``random`` module's state (reseeded from
``os.urandom``, which works after a restore: it calls ``crypto.getRandomValues`` each time),
``logging``'s start time; string hashes stay those of the snapshot (per-site, not per-visit
hash randomisation).

Size: the memory is the WebAssembly heap as it stands after the imports (about 31 MB; free
pages are zeros), ``gc.collect()`` runs first; stored gzip-compressed (``level``, 6 by
default: about 7 MB), next to a small JSON sidecar the worker checks before downloading it.

CPython only; imports the standard library and :mod:`pyodide_host.build`; runs ``node``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyodide_host.build.common import BuildError, last_line

__all__ = [
    "SIDECAR",
    "SNAPSHOT_FILE",
    "SNAPSHOT_FORMAT",
    "SNAPSHOT_SCRIPT",
    "SnapshotError",
    "SnapshotInfo",
    "hash_seed",
    "make_memory_snapshot",
]

SNAPSHOT_SCRIPT = Path(__file__).resolve().parents[1] / "node" / "snapshot.mjs"
"""Makes (``make``) and restores (``boot``) snapshots under Node."""

SNAPSHOT_FILE = "memory-snapshot.bin.gz"
"""The gzip-compressed container, in the site's ``pyodide/`` folder."""

SIDECAR = "memory-snapshot.json"
"""What the worker checks before downloading :data:`SNAPSHOT_FILE` (see :class:`SnapshotInfo`)."""

SNAPSHOT_FORMAT = 1
"""Version of the container layout (``snapshot.mjs``); the worker refuses other versions."""


class SnapshotError(BuildError):
    """No snapshot could be made; the message is one line saying why."""


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot written by :func:`make_memory_snapshot`.

    Attributes:
        path: the compressed container (:data:`SNAPSHOT_FILE`).
        sidecar: its JSON description (:data:`SIDECAR`).
        compressed_bytes: size of ``path`` in bytes.
        raw_bytes: size of the uncompressed container in bytes.
        memory_bytes: size of the WebAssembly memory image in bytes.
        modules: how many modules ``sys.modules`` held.
        packages: lock packages loaded into it.
        imported: requested modules imported into it (``imports`` and the discovered ones).
        skipped: requested modules left out: name -> why.
        seconds: time spent making it.
    """

    path: Path
    sidecar: Path
    compressed_bytes: int
    raw_bytes: int
    memory_bytes: int
    modules: int
    packages: tuple[str, ...]
    imported: tuple[str, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def hash_seed(lock_bytes: bytes) -> int:
    """The ``PYTHONHASHSEED`` a snapshot is made with: 1..2**32-1, from the lock's SHA-256
    (the same site gives the same seed, hence the same bytes)."""
    return int.from_bytes(hashlib.sha256(lock_bytes).digest()[:4], "big") % (2**32 - 1) + 1


def _run(node: str, args: list[str], timeout: float) -> dict:
    try:
        proc = subprocess.run(
            [node, str(SNAPSHOT_SCRIPT), *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise SnapshotError(f"making the memory snapshot took longer than {timeout:g} s") from None
    if proc.returncode != 0:
        raise SnapshotError(f"making the memory snapshot failed: {last_line(proc.stderr)}")
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SnapshotError(f"snapshot.mjs printed no summary: {last_line(proc.stdout + proc.stderr)}") from None


def make_memory_snapshot(
    pyodide_dir: Path,
    *,
    packages: Sequence[str] = ("amphikernel",),
    imports: Sequence[str] = (),
    import_packages: Sequence[str] = (),
    discover: bool = True,
    level: int = 6,
    node: str | None = None,
    timeout: float = 900,
) -> SnapshotInfo:
    """Make the memory snapshot of the runtime in ``pyodide_dir`` and write it there
    (:data:`SNAPSHOT_FILE` and :data:`SIDECAR`).

    If the snapshot cannot be made with ``imports`` (a module that keeps a file open, or leaves
    a JavaScript object Python holds, which no snapshot can carry), it is made again without
    them and without ``import_packages``, then without the discovered modules.

    Args:
        pyodide_dir: a site's runtime folder (``pyodide.mjs``, ``pyodide-lock.json`` and the
            wheels it lists, as :func:`pyodide_host.export.write_runtime` writes it).
        packages: lock package names loaded before the imports (``amphikernel`` first).
        imports: module names to import (modules that fail to import are skipped).
        import_packages: lock packages loaded only along with ``imports`` (those providing
            them; their files would only make the snapshot bigger without them).
        discover: also import what a kernel imports when it starts and runs a cell.
        level: gzip compression level, 1..9.
        node: the ``node`` executable (default: the one on ``PATH``, ``$AMPHI_NODE`` first).
        timeout: seconds allowed for each attempt.

    Returns:
        The :class:`SnapshotInfo`.

    Raises:
        SnapshotError: no Node.js, not a runtime folder, or every attempt failed.
    """
    import time

    started = time.perf_counter()
    pyodide_dir = Path(pyodide_dir)
    lock_path = pyodide_dir / "pyodide-lock.json"
    if not (pyodide_dir / "pyodide.mjs").is_file() or not lock_path.is_file():
        raise SnapshotError(f"{pyodide_dir} is not a Pyodide runtime folder (pyodide.mjs, pyodide-lock.json)")
    node = node or os.environ.get("AMPHI_NODE") or shutil.which("node")
    if node is None:
        raise SnapshotError("Node.js is needed to make a memory snapshot (node is not on PATH)")
    lock_bytes = lock_path.read_bytes()
    base = list(dict.fromkeys(packages))
    with_imports = list(dict.fromkeys([*packages, *import_packages]))
    attempts: list[tuple[list[str], list[str], bool]] = [(with_imports, list(imports), discover)]
    if imports or import_packages:
        attempts.append((base, [], discover))
    if discover:
        attempts.append((base, [], False))
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="amphi-snapshot-") as tmp:
        raw = Path(tmp) / "snapshot.bin"
        summary = None
        for load, names, find in attempts:
            args = ["make", "--dist", str(pyodide_dir), "--out", str(raw), "--packages", ",".join(load)]
            args += ["--hash-seed", str(hash_seed(lock_bytes))]
            if names:
                args += ["--imports", ",".join(names)]
            if find:
                args.append("--discover")
            try:
                summary = _run(node, args, timeout)
                break
            except SnapshotError as exc:
                failures.append(str(exc))
        if summary is None:
            raise SnapshotError("; ".join(dict.fromkeys(failures)))
        data = raw.read_bytes()
    target = pyodide_dir / SNAPSHOT_FILE
    with target.open("wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, compresslevel=level, mtime=0) as gz:
        gz.write(data)
    compressed = target.stat().st_size
    header = _container_header(data)
    sidecar = {
        "format": SNAPSHOT_FORMAT,
        "file": SNAPSHOT_FILE,
        "pyodide": header["pyodide"],
        "python": header.get("python"),
        "lock_sha256": hashlib.sha256(lock_bytes).hexdigest(),
        "packages": header["packages"],
        "compressed_bytes": compressed,
        "raw_bytes": len(data),
        "memory_bytes": next(s["length"] for s in header["sections"] if s["kind"] == "memory"),
        "modules": len(header["modules"]),
    }
    (pyodide_dir / SIDECAR).write_text(json.dumps(sidecar, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return SnapshotInfo(
        path=target,
        sidecar=pyodide_dir / SIDECAR,
        compressed_bytes=compressed,
        raw_bytes=len(data),
        memory_bytes=int(sidecar["memory_bytes"]),
        modules=int(sidecar["modules"]),
        packages=tuple(header["packages"]),
        imported=tuple(header.get("imported", ())),
        skipped=dict(header.get("skipped", {})),
        seconds=time.perf_counter() - started,
    )


def _container_header(data: bytes) -> dict:
    """The JSON header of a container written by ``snapshot.mjs make``.

    Raises:
        SnapshotError: not such a container.
    """
    if data[:8] != b"AMPHISNP" or int.from_bytes(data[8:12], "little") != SNAPSHOT_FORMAT:
        raise SnapshotError("snapshot.mjs wrote something that is not a snapshot container")
    length = int.from_bytes(data[12:16], "little")
    return json.loads(data[16 : 16 + length].decode("utf-8"))
