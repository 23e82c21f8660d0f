"""``python -m pyodide_host.build [--tests]``: see :mod:`pyodide_host.build`."""

from pyodide_host.build import main

raise SystemExit(main())
