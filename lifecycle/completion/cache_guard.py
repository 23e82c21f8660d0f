"""Make parso's on-disk parser cache (used by jedi) tolerate unreadable files.

parso writes ``~/.cache/jedi/<version>/*.pkl`` with a plain ``open(..., "wb")`` and
``pickle.dump``, so a process killed mid-write leaves a truncated pickle behind; parso treats
only a missing file as a cache miss, and every later completion that touches that module
raises ``EOFError`` / ``pickle.UnpicklingError``.  :func:`tolerate_corrupt_cache` makes any
failure to read a cache file a miss (parso then re-parses the source and rewrites the file).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

logger = logging.getLogger("lifecycle.completion")  # one logger for the whole package

_PATCHED_FLAG = "__amphi_tolerant__"


def tolerate_corrupt_cache() -> bool:
    """Wrap ``parso.cache._load_from_file_system`` so an unreadable cache file is a miss.

    Idempotent and process-wide (the change only turns an exception into parso's own "not
    cached" answer, so other parso users are unaffected otherwise).

    Returns:
        ``True`` when the wrapper is in place, ``False`` when this parso version lacks the
        function (nothing is changed then).  Never raises.
    """
    try:
        from parso import cache
    except Exception:
        return False
    original = getattr(cache, "_load_from_file_system", None)
    if original is None:
        return False
    if getattr(original, _PATCHED_FLAG, False):
        return True

    @functools.wraps(original)
    def load_from_file_system(*args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except Exception:
            logger.debug("completion: unreadable parso cache file ignored", exc_info=True)
            return None

    setattr(load_from_file_system, _PATCHED_FLAG, True)
    cache._load_from_file_system = load_from_file_system
    return True
