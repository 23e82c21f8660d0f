"""Running the commands of shell magics, their output streamed to the cell while they run.

Two ways, as IPython's kernel runs them:

* **on a terminal** (``!cmd``, ``%pip``; POSIX): the command's stdin, stdout and stderr are
  the slave side of a new pseudo-terminal (:func:`os.openpty`, 24 rows x 80 columns), so
  it sees a terminal (``[ -t 1 ]`` is true, ``ls`` writes columns), its stdout and stderr
  are merged in the order it wrote them, and the terminal's output processing turns each
  ``\\n`` into ``\\r\\n``: the cell shows exactly what Jupyter shows.  An end-of-file is
  queued on the terminal's input, so a command that reads its stdin gets end-of-file
  instead of waiting forever (Jupyter's ``!cat`` waits until interrupted).  The terminal
  becomes the command's controlling terminal only if its shell takes it (bash does, dash
  does not).  Without :func:`os.openpty` (Windows) the pipes below are used.
* **on pipes** (``x = !cmd``, ``%sx``, ``%%bash``, ``%%sh``): stdout and stderr merged into
  one pipe, or (``%%bash``) kept apart; stdin closed, or fed with given bytes.

Command lines run through ``$SHELL -c`` (IPython's choice; ``/bin/sh`` when ``SHELL`` is
unset or not found) in the kernel's working directory and environment.  Reader threads
collect the bytes; the cell's own thread decodes (UTF-8, bad bytes replaced) and writes
them, so the console capture of every host (descriptor level, replaced streams,
thread-local proxies) routes them to the right cell.  Every command starts in a new
session (its own process group): an interrupt stops the whole group (SIGINT, then
SIGTERM, then SIGKILL; then SIGKILL for what is left of the group once the command has
ended, e.g. its background commands, which ignore SIGINT) and is re-raised.  In Pyodide there are no processes: one clear
:class:`~lifecycle.magics.base.UsageError`.
"""

from __future__ import annotations

import codecs
import errno
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import IO, Any

from lifecycle.magics.base import UsageError, in_browser

__all__ = ["TERMINAL_SIZE", "no_processes", "run_command", "shell_path"]

TERMINAL_SIZE = (24, 80)
"""``(rows, columns)`` of the pseudo-terminal (the size IPython's ``pexpect`` gives it)."""

_READ_SIZE = 65536
_FALLBACK_SHELL = "/bin/sh"

Writer = Callable[[str], Any]


def no_processes(what: str) -> UsageError:
    """The error every shell form raises in Pyodide (``what``: e.g. ``"Shell commands"``)."""
    return UsageError(
        f"{what} cannot run here: this kernel runs in the browser (Pyodide), which cannot "
        "start processes"
    )


def shell_path() -> str:
    """The shell that runs command lines: ``$SHELL`` when it is set and found (IPython runs
    ``!cmd`` and ``x = !cmd`` with it), else ``/bin/sh``."""
    wanted = os.environ.get("SHELL", "")
    found = shutil.which(wanted) if wanted else None
    return found or _FALLBACK_SHELL


def _stdout_writer(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def run_command(
    argv: str | Sequence[str],
    *,
    write: Writer | None = None,
    shell: bool = True,
    terminal: bool = False,
    write_err: Writer | None = None,
    stdin: bytes | None = None,
) -> tuple[int, str]:
    """Run a command until it ends, streaming its output.

    Args:
        argv: a command line (``shell=True``: run with :func:`shell_path` ``-c``) or an
            argument list.
        write: called in this thread with each decoded chunk of stdout (with stderr merged
            into it unless ``write_err`` is given) as it arrives; default: write to
            ``sys.stdout`` and flush.
        shell: run ``argv`` through the shell.
        terminal: run on a pseudo-terminal (stdin, stdout and stderr; ``write_err`` and
            ``stdin`` are then ignored: a terminal has one output).  Pipes where
            :func:`os.openpty` does not exist.
        write_err: keep stderr apart and pass its chunks here (pipes only).
        stdin: bytes written to the command's stdin, which is then closed (pipes only;
            ``None``: stdin is closed at once).

    Returns:
        ``(exit status, all the text passed to write)``; the status is negative (``-N``)
        when signal ``N`` ended the command.

    Raises:
        UsageError: in Pyodide.
        OSError: the program could not be started (e.g. :class:`FileNotFoundError`).
        KeyboardInterrupt: interrupted (the command's process group was stopped first).
    """
    if in_browser():
        raise no_processes("Shell commands")
    if isinstance(argv, str):
        args = [shell_path(), "-c", argv] if shell else [argv]
    else:
        args = list(argv)
    sinks: dict[str, Writer] = {"out": write or _stdout_writer}
    chunks: queue.Queue[tuple[str, bytes | None]] = queue.Queue()
    if terminal and hasattr(os, "openpty"):
        proc = _start_on_terminal(args, chunks)
    else:
        if write_err is not None:
            sinks["err"] = write_err
        proc = _start_on_pipes(args, chunks, separate=write_err is not None, stdin=stdin)
    decoders = {name: codecs.getincrementaldecoder("utf-8")("replace") for name in sinks}
    collected: list[str] = []
    open_channels = set(sinks)
    try:
        while open_channels:
            try:
                name, data = chunks.get(timeout=0.1)  # short waits: interrupts get through
            except queue.Empty:
                continue
            text = decoders[name].decode(data or b"", final=data is None)
            if data is None:
                open_channels.discard(name)
            if text:
                if name == "out":
                    collected.append(text)
                sinks[name](text)
        status = proc.wait()
    except BaseException:
        _stop(proc)
        raise
    return status, "".join(collected)


def _reader(name: str, read: Callable[[], bytes], close: Callable[[], None],
            chunks: queue.Queue[tuple[str, bytes | None]]) -> None:
    """Start a thread putting ``(name, bytes)`` on ``chunks`` until ``read`` gives ``b""``,
    then ``(name, None)``; the thread closes its source itself (never while reading)."""

    def run() -> None:
        try:
            while True:
                data = read()
                if not data:
                    break
                chunks.put((name, data))
        except (OSError, ValueError):
            pass
        finally:
            try:
                close()
            except OSError:
                pass
            chunks.put((name, None))

    thread = threading.Thread(target=run, name=f"amphikernel-shell-{name}", daemon=True)
    thread._amphikernel_internal = True  # type: ignore[attr-defined]  # not a cell's thread
    thread.start()


def _start_on_pipes(
    args: list[str], chunks: queue.Queue[tuple[str, bytes | None]], *, separate: bool,
    stdin: bytes | None,
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        args, stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE if separate else subprocess.STDOUT,
        bufsize=0, start_new_session=True,
    )
    streams: list[tuple[str, IO[bytes] | None]] = [("out", proc.stdout)]
    if separate:
        streams.append(("err", proc.stderr))
    for name, stream in streams:
        assert stream is not None
        _reader(name, lambda s=stream: os.read(s.fileno(), _READ_SIZE), stream.close, chunks)
    if stdin is not None:
        assert proc.stdin is not None
        _feed(proc.stdin, stdin)
    return proc


def _feed(pipe: IO[bytes], data: bytes) -> None:
    """Write ``data`` to ``pipe`` and close it, in a thread (the command may write a lot
    before it reads: writing here could block while nobody drains its output)."""

    def run() -> None:
        try:
            pipe.write(data)
        except (OSError, ValueError):
            pass
        finally:
            try:
                pipe.close()
            except OSError:
                pass

    thread = threading.Thread(target=run, name="amphikernel-shell-stdin", daemon=True)
    thread._amphikernel_internal = True  # type: ignore[attr-defined]
    thread.start()


def _start_on_terminal(args: list[str], chunks: queue.Queue[tuple[str, bytes | None]]) -> subprocess.Popen[bytes]:
    master, slave = os.openpty()
    try:
        os.write(master, _prepare_terminal(slave))  # a command reading stdin gets end-of-file
        proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)  # the command holds the only copies now: reads end when it ends
    _reader("out", lambda: _read_terminal(master), lambda: os.close(master), chunks)
    return proc


def _prepare_terminal(fd: int) -> bytes:
    """Give the terminal :data:`TERMINAL_SIZE`; return its end-of-file character."""
    import fcntl
    import struct
    import termios

    rows, cols = TERMINAL_SIZE
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    eof = termios.tcgetattr(fd)[6][termios.VEOF]
    return eof if isinstance(eof, bytes) and eof else b"\x04"


def _read_terminal(fd: int) -> bytes:
    """One read of the terminal's master side; ``b""`` once every copy of the slave side is
    closed (Linux reports that as ``EIO``, BSDs as end-of-file)."""
    try:
        return os.read(fd, _READ_SIZE)
    except OSError as exc:
        if exc.errno == errno.EIO:
            return b""
        raise


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the command's process group (the command and what it started): SIGINT, then
    SIGTERM, then SIGKILL, waiting half a second after each while the command runs on;
    then SIGKILL for what is left of the group (processes that ignore SIGINT)."""
    group = hasattr(os, "killpg")  # no process groups on Windows
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGKILL", signal.SIGTERM)):
        if proc.poll() is not None:
            break
        try:
            if group:
                os.killpg(proc.pid, sig)
            else:
                proc.kill()
            proc.wait(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            continue
        except (OSError, ValueError):
            break
    if group:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:  # the group is gone
            pass
