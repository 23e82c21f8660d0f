"""Installing amphikernel as a Jupyter kernel: the kernelspec (``kernel.json``).

``amphi jupyter install [--user | --sys-prefix] [--name amphi] [--display-name ...]
[--python PATH]`` writes a kernelspec whose ``argv`` runs the bridge
(``python -m subprocess_host.jupyter -f {connection_file}``) with this interpreter, which
must have ``amphikernel[jupyter]``; ``--python`` picks another interpreter for the kernel
itself (it needs only amphikernel's ``msgspec`` and ``pyzmq``).  The spec says
``language: python`` and ``interrupt_mode: message`` (the client sends
``interrupt_request``), and carries amphikernel's protocol version in ``metadata``.
Installation goes through ``jupyter_client.kernelspec.KernelSpecManager`` (the locations of
the Jupyter path specification: ``--user`` the user data directory, ``--sys-prefix`` this
environment's ``share/jupyter``, else the system-wide directory).
"""

from __future__ import annotations

import json
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from lifecycle.protocol import PROTOCOL_VERSION

DEFAULT_NAME = "amphi"
DEFAULT_DISPLAY_NAME = "Python 3 (amphikernel, reactive)"


def amphikernel_version() -> str:
    """The installed amphikernel version (``"0"`` when not installed as a distribution)."""
    try:
        return metadata.version("amphikernel")
    except metadata.PackageNotFoundError:
        return "0"


def kernel_json(
    *,
    display_name: str = DEFAULT_DISPLAY_NAME,
    bridge_python: str | None = None,
    kernel_python: str | None = None,
    semantics: str = "script",
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ``kernel.json`` document.

    Args:
        display_name: the name the client's kernel menu shows.
        bridge_python: the interpreter running the bridge (default: this one).
        kernel_python: the kernel's interpreter (default: the bridge's).
        semantics: ``"script"`` (default) or ``"strict"``.
        env: environment variables for the bridge (and the kernel it starts).
    """
    argv = [bridge_python or sys.executable, "-m", "subprocess_host.jupyter", "-f", "{connection_file}"]
    if kernel_python:
        argv += ["--python", kernel_python]
    if semantics != "script":
        argv += ["--semantics", semantics]
    spec: dict[str, Any] = {
        "argv": argv,
        "display_name": display_name,
        "language": "python",
        "interrupt_mode": "message",
        "metadata": {
            "debugger": False,
            "amphikernel": {"protocol": PROTOCOL_VERSION, "version": amphikernel_version(), "semantics": semantics},
        },
    }
    if env:
        spec["env"] = dict(env)
    return spec


def _manager() -> Any:
    try:
        from jupyter_client.kernelspec import KernelSpecManager
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise RuntimeError("the Jupyter bridge needs jupyter_client: pip install 'amphikernel[jupyter]'") from exc
    return KernelSpecManager()


def install(
    *,
    name: str = DEFAULT_NAME,
    user: bool = False,
    prefix: str | None = None,
    **spec_options: Any,
) -> Path:
    """Install the kernelspec; returns the directory it went to.

    Args:
        name: the kernel name (``kernel_name`` for clients, ``[A-Za-z0-9._-]+``).
        user: install for the current user (Jupyter's user data directory, ``JUPYTER_DATA_DIR``).
        prefix: install under ``<prefix>/share/jupyter/kernels`` (``--sys-prefix``:
            ``sys.prefix``).
        spec_options: :func:`kernel_json` arguments.

    Raises:
        ValueError: an invalid kernel name.
        RuntimeError: jupyter_client is not installed.
        PermissionError: the system-wide directory is not writable.
    """
    manager = _manager()
    from jupyter_client.kernelspec import _is_valid_kernel_name

    if not _is_valid_kernel_name(name):
        raise ValueError(f"invalid kernel name {name!r}: use letters, digits, '.', '_' and '-'")
    with tempfile.TemporaryDirectory(prefix="amphi-kernelspec-") as tmp:
        (Path(tmp) / "kernel.json").write_text(json.dumps(kernel_json(**spec_options), indent=2) + "\n")
        dest = manager.install_kernel_spec(tmp, kernel_name=name, user=user, prefix=prefix)
    return Path(dest)


def uninstall(name: str = DEFAULT_NAME) -> Path:
    """Remove an installed kernelspec; returns the directory removed.

    Raises:
        KeyError: no kernelspec of that name is installed.
    """
    manager = _manager()
    try:
        return Path(manager.remove_kernel_spec(name))
    except KeyError:
        raise KeyError(f"no Jupyter kernel named {name!r} is installed") from None


def main_install(args: Any) -> int:
    """``amphi jupyter install``: the CLI's arguments (``user``, ``sys_prefix``, ``name``,
    ``display_name``, ``python``, ``semantics``)."""
    prefix = sys.prefix if args.sys_prefix else None
    try:
        dest = install(name=args.name, user=args.user, prefix=prefix, display_name=args.display_name,
                       kernel_python=args.python, semantics=args.semantics)  # fmt: skip
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"amphi jupyter install: {exc}", file=sys.stderr)
        return 1
    print(f"installed the Jupyter kernel {args.name!r} in {dest}")
    return 0


def main_uninstall(args: Any) -> int:
    """``amphi jupyter uninstall``."""
    try:
        dest = uninstall(args.name)
    except (KeyError, RuntimeError, OSError) as exc:
        print(f"amphi jupyter uninstall: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    print(f"removed the Jupyter kernel {args.name!r} from {dest}")
    return 0


def add_parser(sub: Any) -> None:
    """Add ``amphi jupyter install`` / ``uninstall`` to the CLI's subcommands."""
    jp = sub.add_parser("jupyter", help="use amphikernel from JupyterLab, VS Code, nbclient (a Jupyter kernel)")
    jsub = jp.add_subparsers(dest="jupyter_command", metavar="ACTION", required=True)
    ins = jsub.add_parser("install", help="install the kernelspec (kernel.json)")
    where = ins.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="for the current user (Jupyter's user data directory)")
    where.add_argument("--sys-prefix", action="store_true", help="into this environment (sys.prefix/share/jupyter)")
    ins.add_argument("--name", default=DEFAULT_NAME, help=f"kernel name (default {DEFAULT_NAME})")
    ins.add_argument("--display-name", default=DEFAULT_DISPLAY_NAME, help="name shown in the kernel menu")
    ins.add_argument("--python", default=None, help="interpreter for the kernel process (default: this one)")
    ins.add_argument("--semantics", choices=("script", "strict"), default="script", help="default: script")
    ins.set_defaults(func=main_install)
    un = jsub.add_parser("uninstall", help="remove the kernelspec")
    un.add_argument("--name", default=DEFAULT_NAME, help=f"kernel name (default {DEFAULT_NAME})")
    un.set_defaults(func=main_uninstall)
