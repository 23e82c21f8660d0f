"""IPython syntax in notebook cells, turned into plain Python before dataflow analysis.

Real notebooks (``.ipynb`` and percent ``.py`` files) contain ``%magic``, ``%%cell magic``,
``!shell``, ``x = !cmd`` and ``obj?``.  :func:`transform` rewrites them into calls of one
builtin, ``__amphi_magic__`` (the :mod:`lifecycle.magics` runtime, installed when a kernel
starts), so that :func:`lifecycle.analysis.analyze_cell` parses ordinary Python and the
dataflow graph stays exact, and the kernel compiles the very tree it analysed.

Design rules:

* **pure**: ``str -> str`` (plus which lines changed), standard library only; it lives at
  the analysis layer and imports nothing else of :mod:`lifecycle`.
* **line for line**: the output has exactly the input's lines, so tracebacks, linecache
  (which keeps the *original* source) and error positions map to the cell's own lines.  A
  magic continued with trailing backslashes is rewritten on its first line and its other
  lines become blank (``%time`` keeps them: its statement runs as written).
* **IPython's extent**: an escaped line (``%magic``, ``!cmd``, ``x = %magic``, ``x = !cmd``)
  continues onto the next line only after a trailing backslash.  An open bracket or
  triple-quoted string does not continue it: the next lines are ordinary Python, so
  ``%timeit f(a,`` followed by an indented ``b)`` is an ``IndentationError`` on line 2,
  as in IPython.
* **token-aware**: a line is IPython syntax only where a Python statement would start (the
  text before it tokenizes completely), so ``a % b``, ``%`` or ``!`` inside strings,
  brackets and backslash continuations are untouched; cell magics are recognised only on
  the first non-blank line.
* **names are visible**: what a magic's code reads and binds appears in the generated AST:

  ==========================  ================================================================
  ``%time stmt``              ``with __amphi_magic__.time(): stmt`` (simple statements) or
                              ``__amphi_magic__.timed(__amphi_magic__.clock(), (expr))``
                              (expressions: the value is returned, shown if last)
  ``%timeit [-n N -r R -o -q] stmt``  ``__amphi_magic__.timeit(args, lineno, col) if True
                              else (f, x,)``: the dead tuple lists the statement's free
                              names (it runs inside a function, as in IPython)
  ``%%time`` / ``%%capture [out]``  ``if (out := __amphi_magic__.cell(...)) and False:``
                              followed by the body, indented one space at statement starts
                              only: never executed (the magic runs the body itself, with
                              its true positions), it shows the body's definitions and
                              references to the analysis
  ``%%timeit [setup]``        ``__amphi_magic__.cell(...) if True else (free names,)``
  ``!cmd`` / ``x = !cmd``     ``__amphi_magic__.system(cmd)`` / ``x = __amphi_magic__.getoutput(cmd)``
  ``%pip ...`` (top level)    ``await __amphi_magic__.pip(args)`` (micropip is asynchronous)
  ``%name args``              ``__amphi_magic__.line("name", args)``; ``x = %name`` assigns
  ``obj?`` / ``obj??``        ``__amphi_magic__.help("obj", 1 or 2, lambda: obj)``
  other ``%%name``            ``__amphi_magic__.cell("name", args, body, lineno)``
  ==========================  ================================================================

  Arguments of magics (except ``%time``, ``%timeit``, ``%config``) and shell commands get
  IPython's ``{expr}`` / ``$name`` expansion: each field is passed as ``{"expr": lambda:
  (expr)}``, evaluated only when expanded (see :mod:`lifecycle.ipython_syntax.args`).
* unknown magics are still rewritten: the error (``UsageError: Line magic function `%foo`
  not found.``) is raised when the cell runs, not as a ``SyntaxError`` of the graph.

Modules: ``core`` (:func:`transform`, cell magics), ``lines`` (escaped lines), ``source``
(lines, tokens, names), ``args`` (options and expansion, shared with the runtime),
``positions`` (syntax errors and traceback columns pointed back at the cell's text).
"""

from lifecycle.ipython_syntax.args import (
    ExpansionField,
    OptionError,
    expand,
    expansion_fields,
    split_options,
)
from lifecycle.ipython_syntax.core import (
    FUNCTION_BODY_CELL_MAGICS,
    MODULE_BODY_CELL_MAGICS,
    Transformed,
    transform,
    transform_cell,
)
from lifecycle.ipython_syntax.lines import MAGIC_NAME, NO_EXPAND, TIMEIT_OPTIONS
from lifecycle.ipython_syntax.positions import cover_rewritten_lines, point_at_source

__all__ = [
    "FUNCTION_BODY_CELL_MAGICS",
    "MAGIC_NAME",
    "MODULE_BODY_CELL_MAGICS",
    "NO_EXPAND",
    "TIMEIT_OPTIONS",
    "ExpansionField",
    "OptionError",
    "Transformed",
    "cover_rewritten_lines",
    "expand",
    "expansion_fields",
    "point_at_source",
    "split_options",
    "transform",
    "transform_cell",
]
