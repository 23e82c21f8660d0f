"""Installing packages into the kernel's environment (``install-packages``).

The default installer runs ``pip`` in a subprocess of the kernel's own interpreter.  Hosts
without subprocesses (Pyodide) supply their own installer (micropip) through
``kernel.extensions["installer"]``.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

__all__ = ["InvalidRequirementError", "check_requirement", "pip_installer"]

# A PEP 508 name with optional extras and version specifiers, or a local path / wheel file.
_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,\s-]+\])?\s*([<>=!~]=?[^;\s]*(\s*,\s*[<>=!~]=?[^;\s]*)*)?$")


class InvalidRequirementError(ValueError):
    """A requirement string that is neither a package requirement nor a local file."""


def check_requirement(requirement: str) -> str:
    """Validate one requirement (``name``, ``name==1.0``, ``name[extra]>=2``, or a path
    to a local ``.whl``/directory).  Options (``--index-url ...``) are refused.

    Raises:
        InvalidRequirementError: anything else.
    """
    text = requirement.strip()
    if not text or text.startswith("-") or "\x00" in text or "\n" in text:
        raise InvalidRequirementError(f"not a package requirement: {requirement!r}")
    if text.endswith(".whl") or text.startswith(("/", "./", "../")):
        return text
    if not _REQUIREMENT.match(text):
        raise InvalidRequirementError(f"not a package requirement: {requirement!r}")
    return text


def pip_installer(packages: list[str], *, timeout: float = 600.0) -> tuple[list[str], dict[str, str]]:
    """Install each requirement with ``python -m pip install`` (the kernel's interpreter).

    Args:
        packages: requirement strings (see :func:`check_requirement`).
        timeout: seconds allowed per package.

    Returns:
        ``(installed, failed)``: requirements installed, and requirement -> one-line reason.
    """
    installed: list[str] = []
    failed: dict[str, str] = {}
    if sys.platform == "emscripten":
        return [], {p: "this host installs packages with micropip" for p in packages}
    for requirement in packages:
        try:
            text = check_requirement(requirement)
        except InvalidRequirementError as exc:
            failed[requirement] = str(exc)
            continue
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", text],
                capture_output=True, text=True, timeout=timeout, check=False,
            )
        except subprocess.TimeoutExpired:
            failed[requirement] = f"pip did not finish within {timeout:g} s"
            continue
        if proc.returncode == 0:
            installed.append(requirement)
        else:
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()] or ["pip failed"]
            errors = [ln for ln in lines if "ERROR" in ln]
            failed[requirement] = (errors or lines)[-1].strip()
    if installed:
        importlib.invalidate_caches()
    return installed, failed
