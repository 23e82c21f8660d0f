"""The Jupyter bridge: Jupyter clients (JupyterLab, VS Code, nbclient, jupyter_client) drive an
amphikernel kernel through the Jupyter messaging protocol 5.3.

Optional extra ``amphikernel[jupyter]`` (``jupyter_client``).  Outside this package only the
CLI imports :mod:`.kernelspec`, which imports jupyter_client when a command runs.

Modules, transport apart from logic:

* :mod:`.kernelspec`: ``amphi jupyter install`` / ``uninstall`` (``kernel.json``);
* :mod:`.bridge`: the process (ZeroMQ sockets, ``jupyter_client.session.Session``, the kernel
  subprocess); :mod:`.connection`: the connection file and the heartbeat;
* :mod:`.translate`: notifications -> iopub messages, reactive re-runs as
  ``update_display_data``; :mod:`.comms`: widget models <-> comms; :mod:`.requests`:
  ``is_complete``, ``history``, ``inspect`` and ``complete`` replies; :mod:`.messages`: message
  contents.

Entry point: ``python -m subprocess_host.jupyter -f CONNECTION_FILE [--python PATH]``.
"""
