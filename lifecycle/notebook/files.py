"""Notebook files: read and write by suffix (atomically), and convert between the formats."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from lifecycle.notebook.ipynb import dumps_ipynb, loads_ipynb
from lifecycle.notebook.model import Notebook, NotebookFormatError
from lifecycle.notebook.percent import dumps_percent, loads_percent

__all__ = ["convert", "read_notebook", "write_notebook"]


def _is_ipynb(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() == ".ipynb"


def read_notebook(path: str | os.PathLike[str]) -> Notebook:
    """Read a notebook file: ``.ipynb`` as nbformat 4, any other suffix as percent format.

    Percent files are read as UTF-8 (a BOM is dropped); a file whose every line break is
    ``\\r\\n`` is read as if it used ``\\n`` (we always write ``\\n``), any other text exactly.
    Raises :class:`NotebookFormatError` naming the file for malformed content or text that is
    not UTF-8; ``OSError`` if it cannot be read.
    """
    try:
        if _is_ipynb(path):
            return loads_ipynb(Path(path).read_bytes())
        with open(path, encoding="utf-8-sig", newline="") as file:
            text = file.read()
        if "\r\n" in text and text.count("\n") == text.count("\r\n"):
            text = text.replace("\r\n", "\n")  # a CRLF file (every line break is \r\n)
        return loads_percent(text)
    except NotebookFormatError as exc:
        exc._at(path)
        raise
    except UnicodeDecodeError as exc:
        raise NotebookFormatError(
            f"not UTF-8 text: {exc.reason} at byte {exc.start}", path=os.fspath(path)
        ) from exc


def write_notebook(path: str | os.PathLike[str], nb: Notebook) -> None:
    """Write ``nb`` to ``path`` atomically, as ``.ipynb`` (nbformat 4.5) or percent format.

    The whole file is serialised first, then written to a temporary file in the same
    directory, flushed and fsynced, and moved over ``path`` with ``os.replace`` (keeping the
    old file's permission bits; a symlink is written through).  Readers see the old or the new
    file, never a partial one; on any error the temporary file is removed and the old file is
    untouched.  Raises :class:`NotebookFormatError` if ``nb`` cannot be serialised, ``OSError``
    if the file cannot be written.
    """
    try:
        text = dumps_ipynb(nb) if _is_ipynb(path) else dumps_percent(nb)
        data = text.encode("utf-8")
    except NotebookFormatError as exc:
        exc._at(path)
        raise
    except UnicodeEncodeError as exc:
        raise NotebookFormatError(
            f"cannot encode as UTF-8: {exc.reason} at character {exc.start}",
            path=os.fspath(path),
        ) from exc
    _atomic_write(Path(os.path.realpath(path)), data)


def _atomic_write(target: Path, data: bytes) -> None:
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(temp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temp, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    with contextlib.suppress(OSError, AttributeError):  # make the rename durable (POSIX only)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def convert(src_path: str | os.PathLike[str], dst_path: str | os.PathLike[str]) -> Notebook:
    """Convert between formats by suffix (``.ipynb`` <-> percent ``.py``); returns the notebook.

    The percent header, semantics, cell names and options survive both directions (kept in
    ipynb metadata); outputs, execution counts and cell metadata exist in ipynb only.  Same
    errors as :func:`read_notebook` and :func:`write_notebook`.
    """
    nb = read_notebook(src_path)
    write_notebook(dst_path, nb)
    return nb
