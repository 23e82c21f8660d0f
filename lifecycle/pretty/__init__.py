"""The ``text/plain`` formatter: IPython-compatible pretty printing.

This package holds the layout engine (:mod:`.engine`), the printer core :class:`PrettyPrinter`
and :func:`pformat` (:mod:`.core`), the per-type printers (:mod:`.printers`) and the helper
printables :class:`RawText` and :class:`CallExpression` (:mod:`.printables`).  It imports the
standard library only (no lifecycle module, no msgspec; never zmq, starlette, uvicorn, js,
pyodide, subprocess_host or pyodide_host).

Notebook users come from Jupyter, where the ``text/plain`` of a result is produced by IPython's
pretty printer (``IPython.lib.pretty``), not by ``repr()``.  This package is an independent
implementation of that printer's *observable behaviour* (no IPython code, no IPython import;
stdlib only, so it runs in Pyodide), so that results look the same as in Jupyter:

* Containers (``list``, ``tuple``, ``dict``, ``set``, ``frozenset``, ``deque``, ``Counter``,
  ``defaultdict``, ``OrderedDict``, ``UserList``, ``mappingproxy``, ``os.environ``) are laid out
  on one line when they fit in ``max_width`` (79) columns, otherwise one item per line.
  Indentation is cumulative per nesting level (1 column for ``[``/``(``/``{``, the length of
  ``Name(`` for call-like forms), not aligned to the opening bracket's column.
* Sets and frozensets are sorted when their items are orderable (else sorted by ``str``, else
  left in iteration order); dicts keep insertion order; empty sets print as ``set()``.
* Sequences longer than ``max_seq_length`` (1000) items end in ``...``.
* Recursive containers print ``[...]``/``{...}``.
* Classes print as ``module.QualName`` (builtins without the module: ``int``), functions as
  ``<function module.name(signature)>``, exceptions as ``module.Name(args)``, regular
  expressions as ``re.compile(r'...', re.FLAGS)``, objects without a ``__repr__`` of their own as
  ``<module.Class at 0x...>``; everything else (str, numbers, namedtuples, dataclasses, dict
  views, ...) uses its ``repr`` (a multi-line repr keeps its line breaks, indented).
* An object whose class (or a base class before any class that defines ``__repr__``) defines
  ``_repr_pretty_(self, p, cycle)`` is printed by that method; ``p`` is a :class:`PrettyPrinter`,
  which offers the interface of IPython's ``RepresentationPrinter`` (``text``, ``breakable``,
  ``break_``, ``pretty``, ``begin_group``/``end_group``, ``group`` and ``indent`` context
  managers, ``max_width``, ``max_seq_length``, ``indentation``, ``output_width``).

The layout engine is described in :mod:`lifecycle.pretty.engine`.
"""

from __future__ import annotations

from lifecycle.pretty.core import PrettyPrinter, RepresentationPrinter, pformat
from lifecycle.pretty.engine import DEFAULT_MAX_SEQ_LENGTH, DEFAULT_MAX_WIDTH
from lifecycle.pretty.printables import CallExpression, RawText

__all__ = [
    "DEFAULT_MAX_SEQ_LENGTH",
    "DEFAULT_MAX_WIDTH",
    "CallExpression",
    "PrettyPrinter",
    "RawText",
    "RepresentationPrinter",
    "pformat",
]
