"""Fault tests: full disk, files changed behind the server's back, kill -9, runaway cells."""
