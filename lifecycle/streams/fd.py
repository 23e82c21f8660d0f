"""``"fd"`` mode (subprocess host, one kernel per process).

During a cell, file descriptors 1 and 2 point (``os.dup2``) at pipes drained by two reader
threads, so output of C extensions and child processes is captured.  ``sys.stdout`` and
``sys.stderr`` are replaced by writers that append straight to the cell's buffer, so the
relative order of Python-level stdout and stderr writes is exact.  ``end_cell`` flushes
Python and C stdio, writes a sync token into each pipe and waits (bounded by
``sync_timeout``) until the readers have consumed everything up to it, then restores the
descriptors.  Between cells the original descriptors are in place.
"""

from __future__ import annotations

import codecs
import functools
import logging
import os
import sys
import threading
import time
from typing import Any

from lifecycle.streams.buffer import StreamName, _Cell
from lifecycle.streams.console import ConsoleMode, Sink
from lifecycle.streams.pipes import (
    _enlarge_pipe,
    _flush_c_stdio,
    _flush_quietly,
    _partial_token_length,
    _pending_bytes,
    _readable_waiter,
    _write_all,
)
from lifecycle.streams.threaded import _start_internal_thread, _ThreadedConsole

_log = logging.getLogger("lifecycle.streams")  # one logger for the whole package
_monotonic = time.monotonic
_READ_SIZE = 65536


class _FdConsole(_ThreadedConsole):
    """fd mode: descriptors 1 and 2 go to pipes during a cell; Python streams are replaced."""

    mode: ConsoleMode = "fd"

    def __init__(self, sink: Sink, **options: Any) -> None:
        super().__init__(sink, **options)
        self._token = b"\x00amphikernel-sync-" + os.urandom(8).hex().encode() + b"\x00"  # secrets.token_hex(8)
        self._synced = (threading.Event(), threading.Event())
        self._busy = [False, False]
        self._readers_stopping = False
        self._saved_fds: tuple[int, int] | None = None
        self._saved_streams: tuple[Any, Any] = (None, None)
        opened: list[int] = []
        try:
            for fd in (1, 2):
                opened.append(os.dup(fd))
            self._passthrough = (opened[0], opened[1])  # where output between cells goes
            pipes = []
            for _ in range(2):
                read_end, write_end = os.pipe()
                opened += [read_end, write_end]
                pipes.append((read_end, write_end))
                _enlarge_pipe(write_end)
        except OSError:
            for fd in opened:
                os.close(fd)
            raise
        self._pipes = (pipes[0], pipes[1])
        self._readers = tuple(
            _start_internal_thread(
                functools.partial(self._read_loop, index), f"amphikernel-console-fd{index + 1}"
            )
            for index in (0, 1)
        )

    def _install(self, cell: _Cell) -> None:
        streams = (sys.stdout, sys.stderr)
        for stream in (*streams, sys.__stdout__, sys.__stderr__):
            _flush_quietly(stream)
        _flush_c_stdio()
        saved: list[int] = []
        try:
            for fd in (1, 2):
                saved.append(os.dup(fd))
            os.dup2(self._pipes[0][1], 1)
            os.dup2(self._pipes[1][1], 2)
        except OSError:
            for fd, dup in zip((1, 2), saved):
                os.dup2(dup, fd)
                os.close(dup)
            raise
        self._saved_fds = (saved[0], saved[1])
        self._saved_streams = streams
        cell.out = self._writer_class(self, cell, "stdout", streams[0], 1)
        cell.err = self._writer_class(self, cell, "stderr", streams[1], 2)
        sys.stdout, sys.stderr = cell.out, cell.err

    def _sync(self, cell: _Cell) -> None:
        for stream in (*self._saved_streams, sys.__stdout__, sys.__stderr__):
            _flush_quietly(stream)
        _flush_c_stdio()
        if self._pipes_idle():
            return  # nothing written at the descriptor level is still in flight
        self._sync_pipes()

    def _pipes_idle(self) -> bool:
        """Whether both pipes are empty and neither reader holds bytes it has not fed yet.

        A reader marks itself busy (holding the GIL) before it reads, so bytes are either
        still in the pipe (counted by FIONREAD) or with a busy reader: when neither is the
        case the token round trip of :meth:`_sync_pipes` is not needed.
        """
        if self._busy[0] or self._busy[1]:
            return False
        try:
            return all(_pending_bytes(read_end) == 0 for read_end, _ in self._pipes) and not (
                self._busy[0] or self._busy[1]
            )
        except OSError:
            return False

    def _sync_pipes(self) -> bool:
        """Wait until the readers have consumed every byte written to the pipes so far."""
        for event in self._synced:
            event.clear()
        for _, write_end in self._pipes:
            _write_all(write_end, self._token)
        deadline = _monotonic() + self._sync_timeout
        done = all([event.wait(max(0.0, deadline - _monotonic())) for event in self._synced])
        if not done:
            _log.warning("console pipes not drained within %.1f s", self._sync_timeout)
        return done

    def _uninstall(self, cell: _Cell) -> None:
        saved, self._saved_fds = self._saved_fds, None
        try:
            if saved is not None:
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
        finally:
            if saved is not None:
                for dup in saved:
                    os.close(dup)
            sys.stdout, sys.stderr = self._saved_streams
            self._saved_streams = (None, None)

    def _read_loop(self, index: int) -> None:
        """Reader thread of pipe ``index`` (0: stdout, 1: stderr)."""
        read_end = self._pipes[index][0]
        stream: StreamName = "stdout" if index == 0 else "stderr"
        token = self._token
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        held = b""
        busy = self._busy
        poller = _readable_waiter(read_end)
        while True:
            try:
                poller()  # blocks (without the GIL) until the pipe is readable or closed
                busy[index] = True
                chunk = os.read(read_end, _READ_SIZE)
            except OSError:
                busy[index] = False
                return
            if not chunk:
                busy[index] = False
                return
            data = held + chunk if held else chunk
            try:
                at = data.find(token)
                while at >= 0:
                    self._feed(index, stream, decoder, data[:at], final=True)
                    data = data[at + len(token) :]
                    self._synced[index].set()
                    if self._readers_stopping:
                        return
                    at = data.find(token)
                keep = _partial_token_length(data, token)
                held = data[len(data) - keep :] if keep else b""
                if keep:
                    data = data[: len(data) - keep]
                if data:
                    self._feed(index, stream, decoder, data, final=False)
            except Exception:
                _log.exception("console reader failed")
            finally:
                busy[index] = False

    def _feed(
        self,
        index: int,
        stream: StreamName,
        decoder: codecs.IncrementalDecoder,
        data: bytes,
        *,
        final: bool,
    ) -> None:
        """Bytes read from pipe ``index``: to the open cell, else to the original descriptor."""
        cell = self._cell
        if cell is None or not cell.open:
            if data:
                _write_all(self._passthrough[index], data)
            return
        text = decoder.decode(data, final)
        if not text:
            return
        n = len(text)
        chars = cell.chars + n
        if chars > cell.limit:
            self._accept(cell, stream, text, sync=False)
            return
        cell.chars = chars
        cell.items.append(text if index == 0 else (text,))
        if not cell.armed:
            self._kick(cell)

    def _shutdown(self) -> None:
        try:
            self._readers_stopping = True
            self._sync_pipes()
            for reader in self._readers:
                reader.join(timeout=self._sync_timeout)
            for index, (read_end, write_end) in enumerate(self._pipes):
                os.close(write_end)
                if not self._readers[index].is_alive():
                    os.close(read_end)
            for fd in self._passthrough:
                os.close(fd)
        finally:
            super()._shutdown()
