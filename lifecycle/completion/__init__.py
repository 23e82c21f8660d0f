"""Code completion for notebook cells, computed without running user code.

Layout: ``api`` holds the entry points (:func:`complete`, :func:`answer`, :func:`warm_up`),
``worker`` the :class:`CompletionWorker` thread, ``jedi_backend`` the jedi-backed path (jedi is
optional, extra ``completion``, and imported lazily on first use), ``hardening`` the patches
that keep jedi's safe mode from running user code, ``fallback`` the completer used without
jedi, ``introspection`` the static (no user code) reads of live objects they share,
``formatting`` signatures and doc lines, ``request`` the cursor and namespace handling.  May
import: the standard library, :mod:`lifecycle.protocol` and, lazily, jedi; never another I/O
service, the kernel, zmq, starlette, uvicorn, js, pyodide, subprocess_host or pyodide_host.

Entry points:

* :func:`complete` -- ``(start, completions)`` for a cursor (character offset) in a cell's code,
  using ``jedi.Interpreter`` against the live globals, or a small built-in completer when jedi
  is not installed (e.g. a bare Pyodide).
* :func:`answer` -- the same, wrapped as the protocol's ``completion-result`` notification; for
  hosts without threads (Pyodide) that answer ``complete`` commands inline.
* :class:`CompletionWorker` -- a daemon thread that answers ``complete`` commands off the
  kernel's main thread, so a running cell never delays them; when several requests wait, only
  the newest is answered and the others get an empty result.
* :func:`warm_up` -- import jedi and fill its caches ahead of the first real request.

Offsets are Python ``str`` indices (Unicode code points) into the cell's code.

No user code runs.  jedi is imported lazily and always run with
``jedi.settings.allow_unsafe_interpreter_executions = False`` (properties, descriptors and
custom ``__getitem__`` are not evaluated), and :func:`.hardening._harden_jedi` closes the places
where jedi's safe mode still reads possibly-missing attributes with ``getattr`` (which runs
``__getattr__``, e.g. ``__wrapped__`` on every live object), calls ``bool()``, ``iter()``,
comparison/arithmetic operators or ``repr()`` on live objects.  What remains (documented, not
reachable from ordinary objects): jedi calls ``dir()`` (a custom ``__dir__`` runs), reads
``__class__`` (a ``__getattribute__`` override runs), asks a class's *metaclass* for
``__get__`` via :mod:`inspect`, and may import an extension module that has no Python source in
order to introspect it.  The fallback completer reads ``__dict__``\\ s and class dictionaries
only: no ``__dir__``, ``__getattr__``, ``__getattribute__`` or descriptor runs.
"""

from lifecycle.completion.api import answer, complete, warm_up
from lifecycle.completion.fallback import fallback_complete
from lifecycle.completion.formatting import DOC_MAX_CHARS as DOC_MAX_CHARS
from lifecycle.completion.jedi_backend import DETAIL_ALWAYS as DETAIL_ALWAYS
from lifecycle.completion.jedi_backend import DETAIL_BUDGET_S as DETAIL_BUDGET_S
from lifecycle.completion.request import _snapshot as _snapshot
from lifecycle.completion.worker import CompletionWorker

__all__ = [
    "CompletionWorker",
    "answer",
    "complete",
    "fallback_complete",
    "warm_up",
]
