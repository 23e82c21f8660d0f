"""Downloads verified by hash into the user cache: the cache directory (:func:`cache_dir`),
the registries (:func:`npm_registry`, :func:`pypi_index`), one verified download
(:func:`download`) and a PyPI simple-index lookup (:func:`index_file_url`).

A file is only ever moved into the cache after its hash matched (written to a temporary file
beside it first), so a cache entry is either complete and verified, or absent; an entry that
was damaged later is caught by :func:`file_matches` when it is used.

Settings (environment variables):

* ``AMPHI_CACHE_DIR``: the cache (default: platformdirs' user cache dir, e.g.
  ``~/.cache/amphikernel``);
* ``AMPHI_NPM_REGISTRY``: the npm registry (default ``https://registry.npmjs.org``);
* ``AMPHI_PYPI_URL``: a PyPI *simple* index to fetch wheels from (PEP 503 HTML or PEP 691
  JSON, e.g. ``https://pypi.org/simple`` or a mirror); unset, the pinned file URLs are used.

CPython only; standard library (``urllib``) and platformdirs.
"""

from __future__ import annotations

import base64
import hashlib
import html.parser
import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyodide_host.build.pins import NPM_REGISTRY
from pyodide_host.export.common import ExportError

__all__ = [
    "ENV_CACHE",
    "ENV_NPM",
    "ENV_PYPI",
    "DownloadError",
    "Expected",
    "OnBytes",
    "cache_dir",
    "download",
    "file_matches",
    "index_file_url",
    "npm_registry",
    "pypi_index",
]

ENV_CACHE = "AMPHI_CACHE_DIR"
ENV_NPM = "AMPHI_NPM_REGISTRY"
ENV_PYPI = "AMPHI_PYPI_URL"
TIMEOUT = 60.0
"""Seconds a connection or a read may stall before a download is given up."""
CHUNK = 1 << 16

OnBytes = Callable[[str, int, "int | None"], None]
"""``on_bytes(file name, bytes received so far, total bytes or None)``, called as a download
advances (first with 0 received)."""


class DownloadError(ExportError):
    """A download failed (network, HTTP status, or a hash that does not match); one line."""


@dataclass(frozen=True)
class Expected:
    """The hash a file must have: ``algorithm`` is ``"sha256"`` (``value`` in hex) or
    ``"sha512"`` (``value`` an npm/SRI integrity string, ``sha512-<base64>``)."""

    algorithm: str
    value: str

    def new(self) -> hashlib._Hash:
        return hashlib.new(self.algorithm)

    def matches(self, hasher: hashlib._Hash) -> bool:
        """Whether the data fed to ``hasher`` has this hash."""
        if self.algorithm == "sha512":
            return self.value == "sha512-" + base64.b64encode(hasher.digest()).decode()
        return self.value.lower() == hasher.hexdigest()

    def describe(self, hasher: hashlib._Hash) -> str:
        """``hasher``'s digest written like :attr:`value` (for error messages)."""
        if self.algorithm == "sha512":
            return "sha512-" + base64.b64encode(hasher.digest()).decode()
        return hasher.hexdigest()


def cache_dir() -> Path:
    """The cache directory: ``$AMPHI_CACHE_DIR`` or platformdirs' user cache dir for
    ``amphikernel`` (not created here)."""
    configured = os.environ.get(ENV_CACHE)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("amphikernel", appauthor=False))


def npm_registry() -> str:
    """The npm registry URL: ``$AMPHI_NPM_REGISTRY`` or ``https://registry.npmjs.org``."""
    return (os.environ.get(ENV_NPM) or NPM_REGISTRY).rstrip("/")


def pypi_index() -> str | None:
    """The PyPI simple index to look wheels up in (``$AMPHI_PYPI_URL``), or ``None`` for the
    pinned file URLs."""
    value = os.environ.get(ENV_PYPI)
    return value.rstrip("/") if value else None


def file_matches(path: Path, expected: Expected) -> bool:
    """Whether ``path`` is a file with the ``expected`` hash (``False`` if it is missing)."""
    hasher = expected.new()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                hasher.update(block)
    except OSError:
        return False
    return expected.matches(hasher)


def _open(url: str, accept: str | None = None):  # type: ignore[no-untyped-def]
    request = urllib.request.Request(url, headers={"User-Agent": "amphikernel", **({"Accept": accept} if accept else {})})
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"{url}: {reason}") from None


def download(url: str, target: Path, expected: Expected, *, on_bytes: OnBytes | None = None) -> Path:
    """Download ``url`` to ``target`` (atomically: through a temporary file beside it) if its
    content has the ``expected`` hash.

    Args:
        url: ``http(s)://`` or ``file://`` URL.
        target: where the verified file goes (its folder is created).
        expected: the pinned hash.
        on_bytes: progress callback (see :data:`OnBytes`).

    Returns:
        ``target``.

    Raises:
        DownloadError: the server could not be reached, answered an HTTP error, the
            connection broke, or the content's hash differs (nothing is written then).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    hasher = expected.new()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, _open(url) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            received = 0
            if on_bytes is not None:
                on_bytes(target.name, 0, total)
            while True:
                try:
                    block = response.read(CHUNK)
                except (OSError, ValueError) as exc:
                    raise DownloadError(f"{url}: the download broke off after {received} bytes ({exc})") from None
                if not block:
                    break
                out.write(block)
                hasher.update(block)
                received += len(block)
                if on_bytes is not None:
                    on_bytes(target.name, received, total)
        if not expected.matches(hasher):
            raise DownloadError(
                f"{url}: the file has {expected.describe(hasher)[:40]}..., not the pinned "
                f"{expected.algorithm} {expected.value[:40]}... (corrupt download or a changed release)"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


class _Links(html.parser.HTMLParser):
    """The ``href`` of every ``<a>`` of a PEP 503 page, with its text."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = ""

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text.strip()))
            self._href = None


def index_file_url(index: str, project: str, filename: str) -> str:
    """The URL of ``filename`` on the simple index ``index`` (page ``<index>/<project>/``,
    PEP 691 JSON or PEP 503 HTML).

    Raises:
        DownloadError: the index cannot be read or does not list the file.
    """
    page = f"{index.rstrip('/')}/{project}/"
    with _open(page, "application/vnd.pypi.simple.v1+json, text/html;q=0.1") as response:
        kind = response.headers.get("Content-Type", "")
        body = response.read()
    if "json" in kind:
        try:
            files = json.loads(body)["files"]
            links = [(f["url"], f["filename"]) for f in files]
        except (ValueError, KeyError, TypeError) as exc:
            raise DownloadError(f"{page}: not a simple index page ({exc})") from None
    else:
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        links = parser.links
    for href, text in links:
        name = urllib.parse.unquote(urllib.parse.urlsplit(href).path.rsplit("/", 1)[-1])
        if filename in (name, text):
            return urllib.parse.urljoin(page, href.split("#", 1)[0])
    raise DownloadError(f"{page} does not list {filename}")
