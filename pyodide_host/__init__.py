"""The Pyodide host: the kernel session that runs inside Pyodide, and the tooling around it.

* :mod:`pyodide_host.session` (runs in Pyodide; its pure parts also on CPython): one
  restartable kernel fed with msgpack frames (``create_session`` for JavaScript callers).
* ``pyodide_host/node/`` (plain ESM, no build step): ``harness.mjs`` boots Pyodide under Node
  from a dist directory and exposes a session over stdin/stdout (tests, benchmarks, conformance
  runs); ``compile_wheel.mjs`` precompiles our wheel's bytecode inside Pyodide.
* :mod:`pyodide_host.build` (CPython, not shipped in the wheel): ``python -m pyodide_host.build
  [--tests]`` assembles the dist directory (npm ``pyodide`` runtime + wheels + lock);
  :mod:`pyodide_host.build.node_harness` drives the Node harness from Python.
* ``pyodide_host/npm/``: the pinned npm package (``package.json`` + ``package-lock.json``).

Only ``lifecycle`` is imported here at module level; ``js``/``pyodide`` only inside Pyodide.
"""
