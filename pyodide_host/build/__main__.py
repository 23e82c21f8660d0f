"""``python -m pyodide_host.build [--tests]``: see :mod:`pyodide_host.build`."""

from pyodide_host.build.cli import main

raise SystemExit(main())
