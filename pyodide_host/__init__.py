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
* :mod:`pyodide_host.imports` (in Pyodide): installs what a cell imports before it runs;
  :mod:`pyodide_host.http` (in Pyodide): ``http.client``/``urllib`` over synchronous XHR.
* :mod:`pyodide_host.export` (CPython, not shipped in the wheel): static sites.
  ``write_runtime(dest, requirements=(), progress=None) -> RuntimeAssets`` writes what a page
  needs to run a kernel in a worker (runtime, lock, wheels, local ``simple/`` index, bundle,
  worker, service workers); ``export_html_wasm`` is ``amphi export html-wasm``.
* :mod:`pyodide_host.islands` (CPython, not shipped in the Pyodide wheel): live code blocks in
  documentation sites: a Sphinx extension (``.. amphi-cell::``), a Python-Markdown extension
  and an MkDocs plugin (both ``amphi``), build-time pre-rendering, the runtime copied to
  ``<site>/_amphi/``.

Only ``lifecycle`` is imported here at module level; ``js``/``pyodide`` only inside Pyodide.
"""
