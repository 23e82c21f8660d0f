"""Kernels with the per-host pieces switched on: console modes and virtual-file storage."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from lifecycle import protocol
from lifecycle.kernel_lifecycle import KernelArgs, create_kernel, teardown_kernel
from lifecycle.virtual_files import read_shared

pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parents[2]


def _shm_names() -> set[str]:
    return {n for n in os.listdir("/dev/shm") if n.startswith("amphi_")}


def test_eight_kernels_in_eight_threads_thread_local_consoles() -> None:
    original_out, original_err = sys.stdout, sys.stderr
    results: dict[int, list[Any]] = {}
    barrier = threading.Barrier(8)

    def session(n: int) -> None:
        notes: list[Any] = []
        lock = threading.Lock()

        def emit(note: Any) -> None:
            with lock:
                notes.append(protocol.decode_notification(protocol.encode(note)))

        kernel, runtime = create_kernel(KernelArgs(console="thread-local", mode="run"), emit)
        try:
            barrier.wait(10)
            code = (
                "import sys, threading\n"
                f"for i in range(2000):\n    print('k{n}', i)\n"
                f"    if i % 500 == 0: print('k{n}-err', i, file=sys.stderr)\n"
                f"t = threading.Thread(target=lambda: print('k{n}-child'))\nt.start(); t.join()\n"
            )
            asyncio.run(kernel.handle_message(protocol.ExecuteCells(cell_ids=[f"c{n}"], codes=[code])))
        finally:
            teardown_kernel(kernel, runtime)
        results[n] = notes

    threads = [threading.Thread(target=session, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == list(range(8))
    for n, notes in results.items():
        chunks = [x for x in notes if isinstance(x, protocol.CellConsole)]
        assert {c.cell_id for c in chunks} == {f"c{n}"}
        out = "".join(c.text for c in chunks if c.stream == "stdout")
        err = "".join(c.text for c in chunks if c.stream == "stderr")
        expected = "".join(f"k{n} {i}\n" for i in range(2000)) + f"k{n}-child\n"
        assert out == expected  # every byte, in order, nothing from another session
        assert err == "".join(f"k{n}-err {i}\n" for i in range(0, 2000, 500))
    assert sys.stdout is original_out and sys.stderr is original_err


def test_fd_level_capture_in_a_kernel_subprocess() -> None:
    script = textwrap.dedent(
        """
        import asyncio, json, os, sys
        from lifecycle import protocol
        from lifecycle.kernel_lifecycle import KernelArgs, create_kernel, teardown_kernel
        notes = []
        kernel, runtime = create_kernel(KernelArgs(console="fd"), notes.append)
        code = ("import os, ctypes\\nprint('py')\\nos.system('echo from-child')\\n"
                "ctypes.CDLL(None).write(1, b'c-level\\\\n', 8)\\nprint('err', file=__import__('sys').stderr)")
        asyncio.run(kernel.handle_message(protocol.ExecuteCells(cell_ids=['a'], codes=[code])))
        teardown_kernel(kernel, runtime)
        out = ''.join(n.text for n in notes if isinstance(n, protocol.CellConsole) and n.stream == 'stdout')
        err = ''.join(n.text for n in notes if isinstance(n, protocol.CellConsole) and n.stream == 'stderr')
        os.write(1, json.dumps({'out': out, 'err': err}).encode())
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    captured = json.loads(proc.stdout)
    assert captured["out"].splitlines() == ["py", "from-child", "c-level"]
    assert captured["err"] == "err\n"


def test_shared_memory_virtual_file_through_a_kernel() -> None:
    before = _shm_names()
    notes: list[Any] = []
    kernel, runtime = create_kernel(KernelArgs(virtual_files="shared_memory"), notes.append)
    try:
        code = "from lifecycle.virtual_files import publish\nurl = publish(bytes(range(256)) * 4096, 'blob.bin')\nurl"
        asyncio.run(kernel.handle_message(protocol.ExecuteCells(cell_ids=["pub"], codes=[code])))
        url = kernel.globals["url"]
        info = runtime.virtual_files.get(url)
        assert info is not None and info.size == 256 * 4096 and info.shm_name
        reader = (
            "import sys; from lifecycle.virtual_files import read_shared; "
            f"data = read_shared({info.shm_name!r}, {info.size}); "
            "sys.stdout.write(str(data == bytes(range(256)) * 4096))"
        )
        proc = subprocess.run([sys.executable, "-c", reader], capture_output=True, text=True, timeout=60, cwd=REPO)
        assert proc.stdout == "True", proc.stderr
        assert read_shared(info.shm_name, 16) == bytes(range(16))
        # re-running the cell releases its previous file
        asyncio.run(kernel.handle_message(protocol.ExecuteCells(cell_ids=["pub"], codes=[code])))
        assert info.shm_name not in _shm_names()
        assert len(_shm_names() - before) == 1
    finally:
        teardown_kernel(kernel, runtime)
    assert _shm_names() - before == set()


def test_console_chunks_are_batched() -> None:
    notes: list[Any] = []
    kernel, runtime = create_kernel(KernelArgs(console="replace"), notes.append)
    try:
        asyncio.run(kernel.handle_message(protocol.ExecuteCells(cell_ids=["p"], codes=["for i in range(20000):\n    print(i)"])))
    finally:
        teardown_kernel(kernel, runtime)
    chunks = [n for n in notes if isinstance(n, protocol.CellConsole)]
    assert "".join(c.text for c in chunks) == "".join(f"{i}\n" for i in range(20000))
    assert 1 <= len(chunks) <= 20
    completed = next(i for i, n in enumerate(notes) if isinstance(n, protocol.CompletedRun))
    assert all(notes.index(c) < completed for c in chunks)  # flushed before completed-run
