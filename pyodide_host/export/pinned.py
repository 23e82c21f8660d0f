"""Wheels an export takes from PyPI pinned by hash instead of resolving them with ``pip``:
``anywidget`` with everything it needs in Pyodide, and ``wigglystuff`` (a published collection
of anywidget widgets; its ``drawdata`` dependency too), so a notebook that imports them gets a
site whose local index (``simple/``) and lock carry exactly these files.

* :data:`PINNED_WHEELS`: project, version, file name, sha256 and canonical URL of each wheel
  (all pure ``py3-none-any``; versions equal to ``requirements-dev.txt``'s, which a test
  checks, so the browser and the CPython kernels run the same releases).
* :func:`split_pinned`: which requirements are served from the pins (a bare name, or a
  version specifier the pinned version satisfies, no extras) and which go to ``pip``.
* :func:`fetch_pinned`: the pinned wheels for those requirements and, transitively, for their
  dependencies *as they apply in Pyodide* (markers evaluated for ``sys_platform ==
  "emscripten"``, so IPython's ``pexpect`` and ``psutil`` are left out), each downloaded once
  into the user cache and checked against its sha256 (a file that does not match never enters
  the cache: :func:`pyodide_host.export.fetch.download`).  A dependency that has no pin is
  returned as a requirement for ``pip``.

``pip`` is not used for these because it evaluates environment markers for the machine it runs
on, not for Pyodide: asked for ``ipython`` for the Pyodide platform it backtracks to an old
release whose dependencies it can satisfy (``psutil`` has no Pyodide wheel, though IPython does
not need it there).

To move to another release: change the version here and in ``requirements-dev.txt``, and the
file name, sha256 and URL from the project's PyPI page (``https://pypi.org/simple/<name>/``).

CPython only; imports the standard library, ``packaging`` and :mod:`pyodide_host.build`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from pyodide_host.build.common import normalize
from pyodide_host.build.lock import lock_entry
from pyodide_host.build.pins import WheelPin
from pyodide_host.build.runtime import RuntimeInfo
from pyodide_host.export.common import ExportError
from pyodide_host.export.fetch import (
    DownloadError,
    Expected,
    OnBytes,
    download,
    file_matches,
    index_file_url,
    pypi_index,
)

__all__ = ["PINNED_WHEELS", "fetch_pinned", "pinned_wheel", "split_pinned"]

_FILES = "https://files.pythonhosted.org/packages/"


def _pin(name: str, version: str, filename: str, sha256: str, path: str) -> WheelPin:
    return WheelPin(name=name, version=version, filename=filename, sha256=sha256, url=f"{_FILES}{path}/{filename}")


PINNED_WHEELS: tuple[WheelPin, ...] = (
    _pin("anywidget", "0.11.0", "anywidget-0.11.0-py3-none-any.whl", "c574d9acc6503ad27b37a9acea48f957a8ba7c9c9876cfcb37898931c098ce9d", "8e/c2/8fec8e8e2eb920cc2280f569144080cd58622a2eda83bfa4c0c354a63264"),
    _pin("asttokens", "3.0.2", "asttokens-3.0.2-py3-none-any.whl", "9da13157f5b28becde0bd374fc677dcd3c290614264eff096f167c469cd9f933", "d4/2b/04b8a15f3a1c77bc79ddf5c73875327f34b4fa75982df2b76e45e402d364"),
    _pin("comm", "0.2.3", "comm-0.2.3-py3-none-any.whl", "c615d91d75f7f04f095b30d1c1711babd43bdc6419c1be9886a85f2f4e489417", "60/97/891a0971e1e4a8c5d2b20bbe0e524dc04548d2307fee33cdeba148fd4fc7"),
    _pin("drawdata", "0.5.2", "drawdata-0.5.2-py3-none-any.whl", "e5045ed5d2128d7ef004aac9ff2195ba46d6e0711dd7adc663104f6b954eb1cf", "64/df/f57bbf49607c0f66fd69331efae41cbc24d3d878f53d3fb0fa2d4455ec51"),
    _pin("executing", "2.3.0", "executing-2.3.0-py3-none-any.whl", "736e859c9f8701f11fcf516856f26f562e04776387824b43a35a1dfe21c84122", "4d/dd/8bc67e7d5ffc1d88aa5af511189dfb76dc4e1e5b808fab186146ef2663e5"),
    _pin("ipython", "9.18.1", "ipython-9.18.1-py3-none-any.whl", "997ce9140d374531a61069c70c0f9ef299d6dd3559ea0f94b8af589726e3c1d5", "bb/1c/91da4a1c541b75e97eb99d09c6a9b0534de55bb4a466669d1170e39b915c"),
    _pin("ipython-pygments-lexers", "1.1.1", "ipython_pygments_lexers-1.1.1-py3-none-any.whl", "a9462224a505ade19a605f71f8fa63c2048833ce50abc86768a0d81d876dc81c", "d9/33/1f075bf72b0b747cb3288d011319aaf64083cf2efef8354174e3ed4540e2"),
    _pin("ipywidgets", "8.1.9", "ipywidgets-8.1.9-py3-none-any.whl", "f2b8cbcaae10252b809fbe4d7470db75c09b769a32cbf816d20e5ca6d3c5a79d", "c3/55/298e9b3b864a198234997e87a1471c1b17d7f3546ace6d18fb5cf1ce24b2"),
    _pin("jedi", "0.20.1", "jedi-0.20.1-py2.py3-none-any.whl", "0fb16d86c4a4c73c37ba518c77419975e30fcc620658a8d14fbb5720cdd34142", "be/c7/71eb0d51cdcbb63b857c931aa4e9218b078b5d9f8ecd383b234f28fe7b0f"),
    _pin("jupyterlab-widgets", "3.0.17", "jupyterlab_widgets-3.0.17-py3-none-any.whl", "40ac1e9955acf116c4d995d9bfa082d86ad9ec6d91c4f134827cf5e0a5eb75e0", "33/ef/6d27fc118f58cb24886da413545a7efb0853d405fddbfd8b2d9ac09fbed4"),
    _pin("matplotlib-inline", "0.2.2", "matplotlib_inline-0.2.2-py3-none-any.whl", "3c821cf1c209f59fb2d2d64abbf5b23b67bcb2210d663f9918dd851c6da1fcf6", "41/09/5b161152e2d90f7b87f781c2e1267494aef9c32498df793f73ad0a0a494a"),
    _pin("parso", "0.8.7", "parso-0.8.7-py2.py3-none-any.whl", "a8926eb2a1b915486941fdbd31e86a4baf88fe8c210f25f2f35ecec5b574ca1c", "99/5d/8268b644392ee874ee82a635cd0df1773de230bde356c38de28e298392cc"),
    _pin("prompt-toolkit", "3.0.53", "prompt_toolkit-3.0.53-py3-none-any.whl", "01c0891d7f9237d5e339f7d3e42cdae80b7534abb1c7c0e3352efba6231492f2", "54/6f/84908cad2d6aa5144abcf7b42709fe4fdb459bc640ec7ac5786e7693dabc"),
    _pin("psygnal", "0.16.1", "psygnal-0.16.1-py3-none-any.whl", "93b96894d8c46f0a3c0bfaaf8abe73f0d6db2c20cc6d303624cf08f85abc3c92", "be/f2/973c1280f035cd825af70582bbee776c69545e24534b324cf135eabef57e"),
    _pin("pure-eval", "0.2.4", "pure_eval-0.2.4-py3-none-any.whl", "96cae060a313cfaad51bb761278bfb0e62dc0248d9315a81173752dc546cd37a", "6d/18/83376915176eb058cb86470eb7396388a13350b09a8f233a79303bbcbc5b"),
    _pin("pygments", "2.21.0", "pygments-2.21.0-py3-none-any.whl", "2363c69b61c4a97c838da3b130dcd6468f4848992b21a82f2a63ec34377137d9", "71/46/17f022dd3e953bf20a04a028a21ec746d942f8d2af30fa0f124fa0e6a684"),
    _pin("stack-data", "0.6.3", "stack_data-0.6.3-py3-none-any.whl", "d5558e0c25a4cb0853cddad3d77da9891a08cb85dd9f9f91b9f8cd66e511e695", "f1/7b/ce1eafaf1a76852e2ec9b22edecf1daa58175c090266e9f6c64afcd81d91"),
    _pin("traitlets", "5.16.1", "traitlets-5.16.1-py3-none-any.whl", "f775618166caa0396c8e337099240f2bd3e5e917d203b2e6fbe21a58d3cb1f6b", "ad/66/0d785f0bc5e4315a96c989bb476d0fc07ea4f85132550c7b156ca2035d52"),
    _pin("typing-extensions", "4.16.0", "typing_extensions-4.16.0-py3-none-any.whl", "481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8", "49/d3/b8441a820a491ddfc024b0b0cf0393375b75ea13866d9c66727e54c2fc80"),
    _pin("wcwidth", "0.9.4", "wcwidth-0.9.4-py3-none-any.whl", "901eace6d2dd25ebb917d0ce5db18e5c537e1504c905cf32f0d006c12098b05d", "6f/0c/309b1813b230d1dbbd6f2c2ab2bb21ef68992358977605d9ef289bbfedcc"),
    _pin("widgetsnbextension", "4.0.16", "widgetsnbextension-4.0.16-py3-none-any.whl", "a31a8774885b96fe825462f5d6496166f0c7cae111195b6465c801d230eb5a4e", "34/95/40e17e20046b7bc820d29d09ae84ec157ec8dd6e6f6cd722626292c31b2e"),
    _pin("wigglystuff", "0.5.36", "wigglystuff-0.5.36-py3-none-any.whl", "f5fef43fda2fa26d926ffeb3202216ef1130c239cbea415ade386eccb957e95c", "65/11/daa19a0ea41f4c590b313b709f3b4e5713d4cb59167bce0be45d2a3d3c0c"),
)  # fmt: skip
"""The pinned wheels (sorted by project); see the module docstring."""

_BY_NAME = {normalize(p.name): p for p in PINNED_WHEELS}


def pinned_wheel(name: str) -> WheelPin | None:
    """The pin of project ``name`` (case, ``-``/``_``/``.`` insensitive), or ``None``."""
    return _BY_NAME.get(normalize(name))


def _served_by_pin(requirement: str) -> WheelPin | None:
    """The pin serving ``requirement``: a pinned project, no extras, no marker, and either no
    version specifier or one the pinned version satisfies."""
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # pragma: no cover - packaging is a dependency of the build tools
        return None
    try:
        req = Requirement(requirement)
    except InvalidRequirement:
        return None
    pin = pinned_wheel(req.name)
    if pin is None or req.extras or req.marker is not None or req.url:
        return None
    if req.specifier and not req.specifier.contains(pin.version, prereleases=True):
        return None
    return pin


def split_pinned(requirements: Iterable[str]) -> tuple[list[str], list[str]]:
    """``(pinned project names, other requirements)``: which of ``requirements`` are served
    from :data:`PINNED_WHEELS` and which are left for ``pip``, each list in request order."""
    pinned: list[str] = []
    rest: list[str] = []
    for requirement in requirements:
        pin = _served_by_pin(requirement)
        if pin is None:
            rest.append(requirement)
        elif normalize(pin.name) not in pinned:
            pinned.append(normalize(pin.name))
    return pinned, rest


def _wheel_url(pin: WheelPin) -> str:
    index = pypi_index()
    return pin.url if index is None else index_file_url(index, pin.name, pin.filename)


def _fetch(pin: WheelPin, cache: Path, on_bytes: OnBytes | None) -> Path:
    """The verified wheel of ``pin`` in ``cache/downloads`` (downloaded once)."""
    expected = Expected("sha256", pin.sha256)
    cached = cache / "downloads" / pin.filename
    if cached.exists():
        if file_matches(cached, expected):
            return cached
        cached.unlink()  # damaged since: fetched again below
    try:
        return download(_wheel_url(pin), cached, expected, on_bytes=on_bytes)
    except DownloadError as exc:
        raise ExportError(
            f"cannot download {pin.filename} ({exc}); put it (from {pin.url}) into {cache / 'downloads'} and export again"
        ) from None


def fetch_pinned(
    names: Sequence[str],
    runtime: RuntimeInfo,
    cache: Path,
    *,
    on_bytes: OnBytes | None = None,
) -> tuple[list[Path], list[str]]:
    """The pinned wheels of ``names`` and of their dependencies in Pyodide, verified.

    Args:
        names: pinned project names (from :func:`split_pinned`).
        runtime: the Pyodide runtime (markers are evaluated for it).
        cache: the user cache (:func:`pyodide_host.export.fetch.cache_dir`); wheels go to
            ``cache/downloads/``.
        on_bytes: download progress callback.

    Returns:
        ``(wheels, unpinned)``: the wheel files (sorted by name), and the dependencies that
        have no pin (project names, for ``pip``).

    Raises:
        ExportError: a name has no pin, or a wheel cannot be downloaded or does not match its
            sha256 (one line naming the file and where to put it).
    """
    todo = [normalize(n) for n in names]
    wheels: dict[str, Path] = {}
    unpinned: list[str] = []
    while todo:
        name = todo.pop(0)
        if name in wheels:
            continue
        pin = pinned_wheel(name)
        if pin is None:
            raise ExportError(f"no pinned wheel for {name!r}")
        path = _fetch(pin, cache, on_bytes)
        wheels[name] = path
        _, entry = lock_entry(path, runtime)
        for dep in entry["depends"]:
            if pinned_wheel(dep) is not None:
                todo.append(normalize(dep))
            elif dep not in unpinned:
                unpinned.append(dep)
    return sorted(wheels.values(), key=lambda p: p.name), unpinned
