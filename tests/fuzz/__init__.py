"""Fuzzing every boundary that takes bytes from outside (issue 16).

``pytest tests/fuzz`` runs a short fixed-seed budget (:data:`tests.fuzz.report.CI_CASES` cases
per boundary); ``python -m tests.fuzz --long`` runs :data:`tests.fuzz.report.LONG_CASES` per
boundary and prints cases, crashes, hangs and peak memory per boundary.

Boundaries: the subprocess kernel's four ZeroMQ input channels (:mod:`.kernel`), an app
process's multiplexed ``cmd`` and ``mgmt`` sockets (:mod:`.apps`), the server's
WebSocket in edit and run mode and its HTTP endpoints (:mod:`.server`), the Pyodide worker's
message entry point under Node (:mod:`.node`) and the notebook readers (:mod:`.readers`).
Cases come from hypothesis strategies over our msgspec types, mutated byte by byte
(:mod:`.corpus`).
"""
