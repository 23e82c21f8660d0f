"""The jedi-backed completer: ``jedi.Interpreter`` against a copy of the live globals.

jedi is optional (extra ``completion``): :func:`_load_jedi` imports it lazily, on the first
request (or :func:`lifecycle.completion.api.warm_up`), hardens it and remembers when it is
missing, so the fallback completer answers instead.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from lifecycle import protocol
from lifecycle.completion.cache_guard import tolerate_corrupt_cache
from lifecycle.completion.formatting import _first_doc_line, _is_private
from lifecycle.completion.hardening import _completing, _harden_jedi
from lifecycle.completion.request import _line_column

logger = logging.getLogger("lifecycle.completion")  # one logger for the whole package

DETAIL_ALWAYS = 8
"""The first this many completions always carry their signature and docstring line."""

DETAIL_BUDGET_S = 0.05
"""Past :data:`DETAIL_ALWAYS`, signatures and docstrings are fetched (in list order) only while
fetching details has taken less than this many seconds; later items get neither, so a large
result stays fast."""

# jedi is shared process-wide (parser and inference caches); one request at a time uses it.
_jedi_lock = threading.Lock()
_jedi_module: Any = None
_jedi_checked = False


def _load_jedi() -> Any:
    """The ``jedi`` module, imported (and hardened) on first use, or ``None`` without jedi."""
    global _jedi_module, _jedi_checked
    if not _jedi_checked:
        with _jedi_lock:
            if not _jedi_checked:
                try:
                    import jedi
                except Exception as exc:  # ImportError, or a broken install
                    logger.debug("jedi unavailable, using the fallback completer: %r", exc)
                    jedi = None
                else:
                    _harden_jedi()
                    tolerate_corrupt_cache()
                _jedi_module = jedi
                _jedi_checked = True
    return _jedi_module


def _jedi_complete(
    jedi: Any, code: str, cursor: int, ns: dict[str, Any], limit: int, started: float
) -> tuple[int, list[protocol.Completion]]:
    """jedi's completions at ``cursor`` (clamped), with details per :data:`DETAIL_ALWAYS`."""
    with _jedi_lock:
        _completing.active = True
        try:
            return _jedi_complete_locked(jedi, code, cursor, ns, limit, started)
        finally:
            _completing.active = False


def _jedi_complete_locked(
    jedi: Any, code: str, cursor: int, ns: dict[str, Any], limit: int, started: float
) -> tuple[int, list[protocol.Completion]]:
    line, column = _line_column(code, cursor)
    # Read by Interpreter.__init__; set every time in case anything else flipped it.
    jedi.settings.allow_unsafe_interpreter_executions = False
    script = jedi.Interpreter(code, [ns])
    found = script.complete(line, column)
    if not found:
        return cursor, []
    prefix_lengths = [c.get_completion_prefix_length() for c in found]
    start = cursor - max(prefix_lengths)
    typed = code[start:cursor]
    # Order on names first (cheap), then fetch details for the kept items only.
    indexed = list(range(len(found)))
    if not typed.startswith("_"):
        indexed.sort(key=lambda i: _is_private(found[i].name))
    deadline = time.perf_counter() + DETAIL_BUDGET_S
    out: list[protocol.Completion] = []
    for rank, i in enumerate(indexed[: max(0, limit)]):
        c = found[i]
        # A completion with a shorter typed prefix than the others keeps the extra
        # characters, so replacing code[start:cursor] with its name stays correct.
        name = code[start : cursor - prefix_lengths[i]] + c.name
        kind = c.type or ""
        signature = doc = ""
        if rank < DETAIL_ALWAYS or time.perf_counter() < deadline:
            signature, doc = _jedi_details(c, kind)
        out.append(protocol.Completion(name=name, kind=kind, signature=signature, doc=doc))
    return start, out


def _jedi_details(c: Any, kind: str) -> tuple[str, str]:
    """``(signature, doc)`` of one jedi completion; ``""`` for whatever jedi cannot give."""
    signature = doc = ""
    try:
        if kind in ("function", "class"):
            sigs = c.get_signatures()
            if sigs:
                signature = sigs[0].to_string()
        doc = _first_doc_line(c.docstring(raw=True))
    except Exception:
        logger.debug("completion details failed for %r", c, exc_info=True)
    return signature, doc
