"""A real kernel subprocess over real ZeroMQ sockets, driven by KernelClient."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lifecycle import protocol
from subprocess_host.client import KernelClient, KernelStartError, ZmqTransport

pytestmark = pytest.mark.timeout(120)
REPO = Path(__file__).resolve().parents[2]
KERNEL_VENVS = REPO / ".venv-kernels"


class Recorder:
    """Collects a client's notifications and waits for them."""

    def __init__(self, client: KernelClient) -> None:
        self.notes: list[Any] = []
        self.times: list[float] = []
        client.on_notification(self._add)

    def _add(self, note: Any, frame: bytes) -> None:
        self.notes.append(note)
        self.times.append(time.monotonic())

    async def wait_for(self, predicate: Any, since: int = 0, timeout: float = 20) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for n in self.notes[since:]:
                if predicate(n):
                    return n
            await asyncio.sleep(0.005)
        raise TimeoutError(f"no matching notification in {self.notes[since:]!r}")

    async def run(self, client: KernelClient, cells: dict[str, str], timeout: float = 20) -> list[Any]:
        mark = len(self.notes)
        await client.send(protocol.ExecuteCells(cell_ids=list(cells), codes=list(cells.values())))
        await self.wait_for(lambda n: isinstance(n, protocol.CompletedRun), mark, timeout)
        return self.notes[mark:]


def results(notes: list[Any], cell_id: str) -> list[str]:
    return [n.data["text/plain"] for n in notes if isinstance(n, protocol.CellOutput) and n.cell_id == cell_id]


@pytest.fixture
async def kernel() -> AsyncIterator[tuple[KernelClient, Recorder]]:
    client = KernelClient()
    recorder = Recorder(client)
    await client.start()
    await client.wait_ready(30)
    try:
        yield client, recorder
    finally:
        await client.shutdown()
    assert client.poll() is not None


async def test_ready_handshake_and_protocol_version(kernel: tuple[KernelClient, Recorder]) -> None:
    client, rec = kernel
    assert client.info is not None
    assert client.info.protocol == protocol.PROTOCOL_VERSION
    assert client.info.pid == client.pid
    assert client.info.python == ".".join(map(str, sys.version_info[:3]))
    assert "interrupt" in client.info.capabilities
    ready = await rec.wait_for(lambda n: isinstance(n, protocol.KernelReady))
    assert ready.pid == client.pid


async def test_execute_round_trip_with_fd_capture(kernel: tuple[KernelClient, Recorder]) -> None:
    client, rec = kernel
    notes = await rec.run(client, {"a": "import os\nos.system('echo from-a-child')\nx = 6", "b": "x * 7"})
    assert results(notes, "b") == ["42"]
    out = "".join(n.text for n in notes if isinstance(n, protocol.CellConsole) and n.cell_id == "a")
    assert out == "from-a-child\n"
    assert results(notes, "a") == []


async def test_main_module_is_the_kernel(kernel: tuple[KernelClient, Recorder]) -> None:
    client, rec = kernel
    notes = await rec.run(client, {"m": "import sys\nclass K: pass\nsys.modules['__main__'].K is K"})
    assert results(notes, "m") == ["True"]


async def test_interrupt_while_true(kernel: tuple[KernelClient, Recorder]) -> None:
    client, rec = kernel
    mark = len(rec.notes)
    await client.send(protocol.ExecuteCells(cell_ids=["loop"], codes=["while True:\n    pass"]))
    await rec.wait_for(lambda n: isinstance(n, protocol.CellStatus) and n.status == "running", mark)
    await asyncio.sleep(0.1)
    client.interrupt()
    err = await rec.wait_for(lambda n: isinstance(n, protocol.CellError), mark, timeout=10)
    assert err.ename == "KeyboardInterrupt" and err.cell_id == "loop"
    await rec.wait_for(lambda n: isinstance(n, protocol.CompletedRun), mark)
    notes = await rec.run(client, {"after": "'alive'"})
    assert results(notes, "after") == ["'alive'"]


async def test_interrupt_while_idle_is_harmless(kernel: tuple[KernelClient, Recorder]) -> None:
    client, rec = kernel
    client.interrupt()
    await asyncio.sleep(0.2)
    notes = await rec.run(client, {"a": "1 + 1"})
    assert results(notes, "a") == ["2"]
    assert not [n for n in notes if isinstance(n, protocol.KernelError)]


async def test_restart_keeps_the_session_usable(kernel: tuple[KernelClient, Recorder]) -> None:
    client, rec = kernel
    await rec.run(client, {"a": "x = 1"})
    old_pid = client.pid
    await client.restart()
    assert client.pid != old_pid and client.poll() is None
    with pytest.raises(ProcessLookupError):
        os.kill(old_pid, 0)  # type: ignore[arg-type]
    notes = await rec.run(client, {"b": "'x' in globals()"})
    assert results(notes, "b") == ["False"]  # a fresh kernel
    assert not [n for n in notes if isinstance(n, protocol.KernelDied)]


async def test_kill_9_during_a_10_mb_output_is_reported(kernel: tuple[KernelClient, Recorder]) -> None:
    client, rec = kernel
    mark = len(rec.notes)
    code = "import sys\nfor _ in range(1000):\n    sys.stdout.write('x' * 10_000_000)\n    sys.stdout.flush()"
    await client.send(protocol.ExecuteCells(cell_ids=["big"], codes=[code]))
    await rec.wait_for(lambda n: isinstance(n, protocol.CellConsole), mark, timeout=20)
    assert client.pid is not None
    os.kill(client.pid, signal.SIGKILL)
    died = await rec.wait_for(lambda n: isinstance(n, protocol.KernelDied), mark, timeout=5)
    assert died.returncode == -signal.SIGKILL  # (how fast: `python -m benchmarks subprocess`)
    with pytest.raises(RuntimeError):
        await client.send(protocol.ExecuteCells(cell_ids=["x"], codes=["1"]))
    assert await client.shutdown() == -signal.SIGKILL  # returns, does not hang


async def test_nothing_sent_before_stop_is_lost() -> None:
    client = KernelClient()
    rec = Recorder(client)
    await client.start()
    await client.wait_ready(30)
    await client.send(protocol.ExecuteCells(cell_ids=["p"], codes=["for i in range(50000):\n    print(i)"]))
    await client.send(protocol.Stop())
    assert await client.shutdown() == 0
    text = "".join(n.text for n in rec.notes if isinstance(n, protocol.CellConsole))
    assert text == "".join(f"{i}\n" for i in range(50000))
    kinds = [type(n).__name__ for n in rec.notes]
    assert kinds.index("CompletedRun") < kinds.index("KernelStopped")
    assert "KernelDied" not in kinds


async def test_ipc_transport_swaps_in(tmp_path: Path) -> None:
    client = KernelClient(transport_factory=lambda: ZmqTransport(ipc_dir=str(tmp_path)))
    rec = Recorder(client)
    await client.start()
    try:
        await client.wait_ready(30)
        assert client.transport is not None and client.transport.addresses.control.startswith("ipc://")
        notes = await rec.run(client, {"a": "40 + 2"})
        assert results(notes, "a") == ["42"]
    finally:
        await client.shutdown()


def test_bad_stdin_arguments_give_one_clear_line() -> None:
    for payload in (b"", b"{not json", b'{"channels": 5}'):
        proc = subprocess.run(
            [sys.executable, "-m", "subprocess_host.launch_kernel"], input=payload,
            capture_output=True, timeout=60, cwd=REPO,
        )
        assert proc.returncode == 2
        lines = proc.stderr.decode().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("amphikernel kernel: ")
        assert b"KERNEL_READY" not in proc.stdout


async def test_start_failure_is_a_clear_error(tmp_path: Path) -> None:
    client = KernelClient(python=str(tmp_path / "no-such-python"))
    with pytest.raises(KernelStartError, match="cannot start"):
        await client.start()


def _running(pid: int) -> bool:
    """Whether ``pid`` still runs: an exited process not yet reaped by its new parent (a
    zombie: this machine's PID 1 reaps late) has ended."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        return state != "Z" or len(os.listdir(f"/proc/{pid}/task")) > 1  # threads still running
    except FileNotFoundError:
        return False


def test_kernel_exits_when_its_parent_dies() -> None:
    host = textwrap.dedent(
        """
        import asyncio, sys
        from subprocess_host.client import KernelClient
        async def main():
            client = KernelClient()
            await client.start()
            await client.wait_ready(30)
            print(client.pid, flush=True)
            await asyncio.sleep(60)
        asyncio.run(main())
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", host], stdout=subprocess.PIPE, cwd=REPO, text=True)
    try:
        assert proc.stdout is not None
        kernel_pid = int(proc.stdout.readline())
        os.kill(kernel_pid, 0)  # alive
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if not _running(kernel_pid):
                break
            time.sleep(0.05)
        else:
            os.kill(kernel_pid, signal.SIGKILL)
            pytest.fail("the kernel outlived its parent by 5 s")
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("version", ["3.10.13", "3.11.7", "3.12.1", "3.13.0"])
async def test_kernel_under_each_python(version: str) -> None:
    python = KERNEL_VENVS / version / "bin" / "python"
    if not (KERNEL_VENVS / version / ".installed").exists():
        pytest.skip(f"no kernel virtualenv for Python {version} (run `make kernel-venvs`)")
    client = KernelClient(python=str(python))
    rec = Recorder(client)
    await client.start()
    try:
        info = await client.wait_ready(60)
        assert info.python == version
        notes = await rec.run(client, {"v": "import sys\n'%d.%d.%d' % sys.version_info[:3]", "p": "print('hi')"})
        assert results(notes, "v") == [repr(version)]
        assert "".join(n.text for n in notes if isinstance(n, protocol.CellConsole)) == "hi\n"
    finally:
        assert await client.shutdown() == 0
