"""Optional dependencies, installed with amphikernel's extras: a missing one is reported as one
line naming the extra to install (:class:`MissingExtraError`), never as a bare
``ModuleNotFoundError`` deep in a traceback.

``amphi`` prints such an error as ``amphi: error: <message>``; Sphinx and MkDocs show the
message when they fail to load an extension.  Shared by every host (standard library only).

Extras (``pyproject.toml``): ``completion`` (jedi), ``docs`` (Sphinx, MkDocs,
Python-Markdown).
"""

from __future__ import annotations

__all__ = ["MissingExtraError", "missing_extra"]


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message (one line) names the extra."""


def missing_extra(feature: str, extra: str, exc: ImportError) -> MissingExtraError:
    """The error to raise (``from None``) when ``feature`` could not import what ``extra``
    installs.

    Args:
        feature: what needs it, e.g. ``"the Sphinx extension pyodide_host.islands.sphinx"``.
        extra: the extra's name, e.g. ``"docs"``.
        exc: the original import error (its module name is quoted).

    Returns:
        A :class:`MissingExtraError` whose message reads like
        ``the Sphinx extension ... needs sphinx, which is not installed: pip install 'amphikernel[docs]'``.
    """
    module = exc.name or str(exc)
    error = MissingExtraError(
        f"{feature} needs {module}, which is not installed: pip install 'amphikernel[{extra}]'",
        name=exc.name,
    )
    return error
