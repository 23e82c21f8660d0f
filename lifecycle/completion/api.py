"""The entry points: :func:`complete`, :func:`answer` (the protocol's answer), :func:`warm_up`."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any

from lifecycle import protocol
from lifecycle.completion.fallback import fallback_complete
from lifecycle.completion.jedi_backend import _jedi_complete, _load_jedi
from lifecycle.completion.request import _clamp, _snapshot

logger = logging.getLogger("lifecycle.completion")  # one logger for the whole package


def complete(
    code: str, cursor: int, namespace: Mapping[str, Any], *, limit: int = 100
) -> tuple[int, list[protocol.Completion]]:
    """Completions for the word at ``cursor`` in ``code``.

    Args:
        code: the cell's source.
        cursor: a character offset (code points) into ``code``; values outside
            ``0..len(code)`` are clamped.
        namespace: the live globals (name -> object).  A shallow copy is taken, so another
            thread may keep mutating it.  Nothing in it is called or has its properties read.
        limit: at most this many completions are returned.

    Returns:
        ``(start, completions)``: ``start`` is the offset where the word being completed
        begins (replace ``code[start:cursor]`` with a completion's ``name``); public names come
        before ``_private`` ones unless the typed prefix starts with ``_``.  When jedi is not
        installed, or raises (e.g. on an unreadable cache), :func:`fallback_complete` answers
        instead.

    Never raises: on any failure (including unexpected argument types) it logs at debug level
    and returns ``(cursor, [])`` with ``cursor`` clamped when possible.
    """
    started = time.perf_counter()
    try:
        cursor = _clamp(cursor, code)
    except Exception:
        logger.debug("completion: bad arguments", exc_info=True)
        return (max(0, cursor) if isinstance(cursor, int) else 0), []
    try:
        ns = _snapshot(namespace)
        jedi = _load_jedi()
        if jedi is None:
            return fallback_complete(code, cursor, ns, limit=limit)
    except Exception:
        logger.debug("completion failed at offset %d", cursor, exc_info=True)
        return cursor, []
    try:
        return _jedi_complete(jedi, code, cursor, ns, limit, started)
    except Exception:
        logger.debug("jedi failed at offset %d; using the fallback completer", cursor, exc_info=True)
    try:
        return fallback_complete(code, cursor, ns, limit=limit)
    except Exception:
        logger.debug("fallback completion failed at offset %d", cursor, exc_info=True)
        return cursor, []


def answer(cmd: protocol.Complete, namespace: Mapping[str, Any]) -> protocol.CompletionResult:
    """Answer a ``complete`` command inline (hosts without threads, e.g. Pyodide).

    Args:
        cmd: the command; ``cmd.cursor`` is a character offset into ``cmd.code``.
        namespace: the kernel's globals (copied, never called into).

    Returns:
        The ``completion-result`` notification for ``cmd.request_id``.  Never raises; a failure
        gives an empty result.
    """
    start, completions = complete(cmd.code, cmd.cursor, namespace)
    return protocol.CompletionResult(
        request_id=cmd.request_id, completions=completions, start=start
    )


def warm_up() -> bool:
    """Import jedi and run one small completion so the first real request is fast.

    Safe to call from any thread (e.g. a background thread at kernel start), any number of
    times.

    Returns:
        ``True`` when jedi is available and answered, ``False`` otherwise.  Never raises.
    """
    try:
        jedi = _load_jedi()
        if jedi is None:
            return False
        # A global (loads the builtins stubs) and an attribute of a live module.
        _jedi_complete(jedi, "war", 3, {"warm_up": warm_up}, 100, time.perf_counter())
        _jedi_complete(jedi, "sys.pa", 6, {"sys": sys}, 100, time.perf_counter())
        return True
    except Exception:
        logger.debug("completion warm-up failed", exc_info=True)
        return False
