"""Runs INSIDE Pyodide (``pyodide_host/node/compile_wheel.mjs``): add unchecked-hash bytecode
for every module of a pure wheel.

Pyodide sets ``sys.dont_write_bytecode``, so without this every page load compiles every
module from source.  The sources stay (tracebacks, ``inspect``); the ``.pyc`` files go where
the import system looks (``__pycache__/<name>.<cache_tag>.pyc``) and are never checked against
the source (unchecked hash: the wheel is immutable).  Only the interpreter that compiled them
uses them: other interpreters have another cache tag and compile from source as usual.
"""

import base64
import csv
import hashlib
import importlib.util
import io
import zipfile
from importlib._bootstrap_external import _code_to_hash_pyc  # type: ignore[attr-defined]

SITE = "/lib/python3.{minor}/site-packages/"


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def compile_wheel(src: str, dst: str) -> int:
    """Write ``dst``: ``src`` plus bytecode for each ``.py``; returns how many were compiled."""
    import sys

    site = SITE.format(minor=sys.version_info[1])
    with zipfile.ZipFile(src) as zin:
        entries = [(info.filename, zin.read(info.filename)) for info in zin.infolist()]
    record_name = next(n for n, _ in entries if n.endswith(".dist-info/RECORD"))
    files: list[tuple[str, bytes]] = []
    compiled = 0
    for name, data in entries:
        if name == record_name or "/__pycache__/" in name:
            continue
        files.append((name, data))
        if name.endswith(".py"):
            try:
                code = compile(data, site + name, "exec", dont_inherit=True, optimize=0)
            except (SyntaxError, ValueError):  # e.g. Python 2 files a wheel ships as data
                continue
            pyc = _code_to_hash_pyc(code, importlib.util.source_hash(data), checked=False)
            files.append((importlib.util.cache_from_source(name), bytes(pyc)))
            compiled += 1
    write_wheel(dst, files, record_name)
    return compiled


def write_wheel(path: str, files: list[tuple[str, bytes]], record_name: str) -> None:
    """Write a reproducible wheel at ``path``: ``files`` (archive name, content bytes) in the
    order given, then the ``RECORD`` named ``record_name`` (sha256 and size of every file, as
    the wheel spec, PEP 427/376, requires), all with fixed timestamps and modes."""
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in files:
        writer.writerow([name, _record_hash(data), str(len(data))])
    writer.writerow([record_name, "", ""])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in [*files, (record_name, record.getvalue().encode())]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)
