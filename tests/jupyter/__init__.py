"""Jupyter clients driving amphikernel through the bridge (``subprocess_host.jupyter``)."""
