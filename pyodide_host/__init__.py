"""The Pyodide host: the kernel session that runs inside Pyodide (a Web Worker in the browser,
Node.js for tests) with its JavaScript bridge, and the CPython tooling around it (the dist
builder, static-site export, documentation islands).  It may import the standard library,
msgspec and :mod:`lifecycle`; ``js``/``pyodide``/``pyodide_js``/``micropip`` only inside
functions that run in Pyodide; the CPython tooling also runs ``npm``, ``pip`` and ``node`` as
subprocesses.  Never ``subprocess_host`` (nor zmq, starlette, uvicorn): this is what runs in the
browser, and the local server's host depends on it, not the other way round.

* :mod:`pyodide_host.session` (runs in Pyodide; its pure parts also on CPython): one
  restartable kernel fed with msgpack frames (``create_session`` for JavaScript callers), with
  :mod:`pyodide_host.frames` (host-level frames, notebook text), :mod:`pyodide_host.installer`
  (micropip, the runtime's lock) and :mod:`pyodide_host.jsbridge` (JavaScript values).
* ``pyodide_host/node/`` (plain ESM, no build step): ``harness.mjs`` boots Pyodide under Node
  from a dist directory and exposes a session over stdin/stdout (tests, benchmarks, conformance
  runs); ``compile_wheel.mjs`` precompiles our wheel's bytecode inside Pyodide.
* :mod:`pyodide_host.build` (CPython, not in the Pyodide wheel): ``python -m pyodide_host.build
  [--tests] [--prebuilt]`` assembles the dist directory (npm ``pyodide`` runtime + wheels +
  lock) and our Pyodide wheel, shipped as package data in ``pyodide_host/prebuilt/``
  (:mod:`pyodide_host.build.prebuilt`); :mod:`pyodide_host.build.pins` pins the runtime by
  hash; :mod:`pyodide_host.build.node_harness` drives the Node harness from Python.
* ``pyodide_host/npm/``: the pinned npm package (``package.json`` + ``package-lock.json``,
  package data: its sha512 integrity verifies the runtime tarball an export downloads).
* :mod:`pyodide_host.extras`: :class:`~pyodide_host.extras.MissingExtraError`, a one-line
  error naming the extra that installs a missing optional dependency.
* :mod:`pyodide_host.imports` (in Pyodide): installs what a cell imports before it runs;
  :mod:`pyodide_host.http` (in Pyodide): ``http.client``/``urllib`` over synchronous XHR.
* :mod:`pyodide_host.export` (CPython, not in the Pyodide wheel): static sites; the runtime
  comes from a local folder, the user cache or a verified download
  (:mod:`pyodide_host.export.runtime`, :mod:`pyodide_host.export.fetch`), so an installed
  amphikernel exports without Node.js.
  ``write_runtime(dest, requirements=(), progress=None) -> RuntimeAssets`` writes what a page
  needs to run a kernel in a worker (runtime, lock, wheels, local ``simple/`` index, bundle,
  worker, service workers); ``export_html_wasm`` is ``amphi export html-wasm``.
* :mod:`pyodide_host.islands` (CPython, not shipped in the Pyodide wheel): live code blocks in
  documentation sites: a Sphinx extension (``.. amphi-cell::``), a Python-Markdown extension
  and an MkDocs plugin (both ``amphi``), build-time pre-rendering, the runtime copied to
  ``<site>/_amphi/``.

Nothing is imported here: importing a submodule loads only what it needs.
"""
