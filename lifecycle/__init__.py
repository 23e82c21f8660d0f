"""The lifecycle core shared by every host (browser, kernel subprocess, kernel threads).

Layers, lowest first (checked by import-linter, contracts in ``pyproject.toml``):
:mod:`~lifecycle.protocol` (commands, notifications, msgpack codec) and
:mod:`~lifecycle.notebook` (file formats) → :mod:`~lifecycle.analysis`,
:mod:`~lifecycle.graph` (the dataflow graph) and :mod:`~lifecycle.ipython_syntax` (IPython
syntax turned into Python before analysis) → :mod:`~lifecycle.kernel` with
:mod:`~lifecycle.execution`, :mod:`~lifecycle.context`, :mod:`~lifecycle.outputs`,
:mod:`~lifecycle.import_hooks` and :mod:`~lifecycle.shared_patch` → the I/O services
(:mod:`~lifecycle.display`, :mod:`~lifecycle.pretty`, :mod:`~lifecycle.streams`,
:mod:`~lifecycle.virtual_files`, :mod:`~lifecycle.stdin`, :mod:`~lifecycle.ui`,
:mod:`~lifecycle.widgets`, :mod:`~lifecycle.completion`, :mod:`~lifecycle.packages`,
:mod:`~lifecycle.magics`, :mod:`~lifecycle.ipython_compat`,
:mod:`~lifecycle.matplotlib_backend`) →
:mod:`~lifecycle.kernel_lifecycle` (hook build, kernel create, the UI-merge listen loop,
teardown) on top.  A module never imports one above it.  May import: the standard library,
msgspec and small pure-Python libraries; never zmq, starlette, uvicorn, ``js``/``pyodide``,
:mod:`subprocess_host` or :mod:`pyodide_host`.
"""
