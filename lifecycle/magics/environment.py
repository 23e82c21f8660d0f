"""Files, environment, working directory, namespace and kernel settings:
``%cd``, ``%pwd``, ``%env``, ``%who``, ``%whos``, ``%%writefile``, ``%matplotlib``,
``%config``, ``%load_ext`` / ``%reload_ext`` / ``%unload_ext``, ``%autoreload``, ``%aimport``.

``%cd`` changes the working directory of the kernel's *process*: kernel threads of one
process (run mode) share it, as they share ``os.environ`` (``%env``).

``%config Class.option = value`` records the setting per kernel in
``KernelContext.extensions["config"]`` (``{"InlineBackend": {"figure_format": "svg"}}``),
a neutral place any subsystem can read; ``InlineBackend`` options are also applied at once
through the matplotlib backend's :func:`configure_inline_backend`.  Other classes
(``IPCompleter``, ``Completer``, ``HistoryManager``...) are accepted and have no effect.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
from typing import Any

from lifecycle import context as context_mod
from lifecycle.magics.base import MagicCall, UsageError

__all__ = ["CONFIG_KEY", "kernel_config"]

CONFIG_KEY = "config"
"""Key of the per-kernel ``%config`` settings in ``KernelContext.extensions``."""

_SECRET = re.compile(r"KEY|TOKEN|SECRET|PASS|CREDENTIAL|AUTH", re.IGNORECASE)


def _unquote(text: str) -> str:
    text = text.strip()
    try:
        words = shlex.split(text)
    except ValueError:
        return text
    return words[0] if len(words) == 1 else text


# ----------------------------------------------------------------- directory, environment

_previous_dir: list[str] = []


def _cd(call: MagicCall) -> None:
    """``%cd [dir]``: change the working directory (no argument: home; ``-``: the previous
    one) and print the new one."""
    target = _unquote(call.args) if call.args.strip() else os.path.expanduser("~")
    if target == "-":
        if not _previous_dir:
            raise UsageError("%cd -: there is no previous directory")
        target = _previous_dir[-1]
    target = os.path.expanduser(target)
    before = os.getcwd()
    try:
        os.chdir(target)
    except OSError as exc:
        raise UsageError(f"%cd: {exc.strerror or exc}: {target!r}") from None
    _previous_dir[:] = [before]
    print(os.getcwd())


def _pwd(call: MagicCall) -> str:
    """``%pwd``: the current working directory."""
    return os.getcwd()


def _env(call: MagicCall) -> Any:
    """``%env``: the environment (values of names that look secret are hidden);
    ``%env NAME``: one value; ``%env NAME=value`` or ``%env NAME value``: set it."""
    text = call.args.strip()
    if not text:
        return {k: ("<hidden>" if _SECRET.search(k) else v) for k, v in os.environ.items()}
    if "=" in text:  # as IPython: "=" separates when present, else the first space
        name, _, value = text.partition("=")
    elif len(text.split(None, 1)) == 2:
        name, value = text.split(None, 1)
    else:
        if text not in os.environ:
            raise UsageError(f"Environment does not have key: {text}")
        return os.environ[text]
    name, value = name.strip(), value.strip()
    if not name:
        raise UsageError("%env: a variable name is needed")
    os.environ[name] = value
    print(f"env: {name}={value}")
    return None


# --------------------------------------------------------------------------- namespace


def _user_names(call: MagicCall) -> list[str]:
    """The notebook's variable names (not starting with ``_``), sorted; only those whose
    type name is among ``call.args`` when some are given."""
    type_filter = set(call.args.split())
    return sorted(
        name for name, value in call.globals.items()
        if not name.startswith("_") and (not type_filter or type(value).__name__ in type_filter)
    )


def _who(call: MagicCall) -> None:
    """``%who [type ...]``: the notebook's variables (optionally only of the given type
    names), each followed by a tab, nine per line."""
    names = _user_names(call)
    if not names:
        print("Interactive namespace is empty." if not call.args.strip() else "No variables match your requested type.")
        return
    out = []
    for count, name in enumerate(names, start=1):
        out.append(name + "\t ")
        if count % 9 == 0:
            out.append("\n")
    print("".join(out))


def _whos(call: MagicCall) -> None:
    """``%whos [type ...]``: the notebook's variables as a table (name, type, data)."""
    names = _user_names(call)
    if not names:
        print("Interactive namespace is empty." if not call.args.strip() else "No variables match your requested type.")
        return
    rows = []
    for name in names:
        value = call.globals[name]
        text = repr(value) if not hasattr(value, "__module__") or type(value).__module__ == "builtins" else str(value)
        text = " ".join(text.split())
        rows.append((name, type(value).__name__, text if len(text) <= 50 else text[:25] + "<...>" + text[-20:]))
    width_n = max(8, *(len(r[0]) for r in rows)) + 3
    width_t = max(4, *(len(r[1]) for r in rows)) + 3
    print(f"{'Variable':<{width_n}}{'Type':<{width_t}}Data/Info")
    print("-" * (width_n + width_t + 9))
    for name, kind, text in rows:
        print(f"{name:<{width_n}}{kind:<{width_t}}{text}")


# ------------------------------------------------------------------------------ files


def _writefile(call: MagicCall) -> None:
    """``%%writefile [-a|--append] file``: write (or append) the cell's body to ``file``."""
    try:
        words = shlex.split(call.args)
    except ValueError as exc:
        raise UsageError(f"%%writefile: {exc}") from None
    append = False
    names = []
    for word in words:
        if word in ("-a", "--append"):
            append = True
        elif word.startswith("-") and len(word) > 1:
            raise UsageError(f"%%writefile: unknown option {word}")
        else:
            names.append(word)
    if len(names) != 1:
        raise UsageError("%%writefile: exactly one file name is needed: %%writefile [-a] file")
    path = os.path.expanduser(names[0])
    exists = os.path.exists(path)
    if append:
        print(f"Appending to {names[0]}")
    else:
        print(f"Overwriting {names[0]}" if exists else f"Writing {names[0]}")
    with open(path, "a" if append else "w", encoding="utf-8") as fh:
        fh.write(call.body or "")


# ----------------------------------------------------------------- kernel settings


def kernel_config(ctx: Any = None) -> dict[str, dict[str, Any]]:
    """The ``%config`` settings of a kernel (default: the current one), created empty on
    first use: ``{"InlineBackend": {"figure_format": "svg"}, ...}``."""
    ctx = ctx if ctx is not None else context_mod.current_or_none()
    if ctx is None:
        return {}
    settings = ctx.extensions.get(CONFIG_KEY)
    if not isinstance(settings, dict):
        settings = ctx.extensions[CONFIG_KEY] = {}
    return settings


def _apply_inline_backend(option: str, value: Any) -> None:
    try:
        from lifecycle.matplotlib_backend.state import configure_inline_backend
    except ImportError:  # no matplotlib backend in this build: the setting is recorded
        return
    try:
        configure_inline_backend(option, value)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"%config InlineBackend.{option}: {exc}") from None


def _config(call: MagicCall) -> Any:
    """``%config Class.option = value`` (value: a Python literal or expression); ``%config
    Class``: that class's settings; ``%config``: the classes that have some."""
    text = call.args.strip()
    settings = kernel_config()
    if not text:
        print("Available objects for config:")
        for name in sorted({"InlineBackend", *settings}):
            print(f"    {name}")
        return None
    match = re.fullmatch(r"([A-Za-z_]\w*)\.([A-Za-z_]\w*)\s*=\s*(.+)", text, re.DOTALL)
    if match is None:
        if re.fullmatch(r"[A-Za-z_]\w*", text):
            return dict(settings.get(text, {}))
        raise UsageError(f"%config: expected Class.option = value, got {text!r}")
    cls, option, source = match.groups()
    try:
        value = ast.literal_eval(source.strip())
    except (ValueError, SyntaxError):
        try:
            value = eval(source, call.globals, dict(call.locals))  # IPython evaluates it too
        except Exception as exc:
            raise UsageError(f"%config {cls}.{option}: cannot evaluate {source.strip()!r}: {exc}") from None
    if cls == "InlineBackend":
        _apply_inline_backend(option, value)
    settings.setdefault(cls, {})[option] = value
    return None


_GUI_BACKENDS = {"inline", "", "agg", "none"}


def _matplotlib(call: MagicCall) -> None:
    """``%matplotlib [inline]``: figures are shown inline already, so this is accepted and
    does nothing; other backends (``qt``, ``widget``...) are not available and say so."""
    words = call.args.split()
    if "--list" in words or "-l" in words:
        print("Available matplotlib backends: ['inline']")
        return
    backend = words[0] if words else ""
    if backend.lower() not in _GUI_BACKENDS:
        import sys

        print(
            f"%matplotlib {backend}: only inline figures are available in this kernel; "
            "figures are shown inline.",
            file=sys.stderr,
        )


_ACCEPTED_EXTENSIONS = frozenset({"autoreload", "storemagic"})


def _load_ext(call: MagicCall) -> None:
    """``%load_ext autoreload`` (and ``%reload_ext``/``%unload_ext``): accepted; modules are
    imported as usual.  Other IPython extensions need an IPython shell, which this kernel
    does not have."""
    for name in call.args.split():
        if name not in _ACCEPTED_EXTENSIONS:
            raise UsageError(
                f"%{call.name} {name}: IPython extensions need an IPython shell, which this "
                "kernel does not provide (accepted: autoreload)"
            )


def _accepted(call: MagicCall) -> None:
    """Accepted and does nothing (``%autoreload``, ``%aimport``)."""


LINE_MAGICS = {
    "cd": _cd,
    "pwd": _pwd,
    "env": _env,
    "who": _who,
    "whos": _whos,
    "config": _config,
    "matplotlib": _matplotlib,
    "load_ext": _load_ext,
    "reload_ext": _load_ext,
    "unload_ext": _load_ext,
    "autoreload": _accepted,
    "aimport": _accepted,
}
CELL_MAGICS = {"writefile": _writefile}
