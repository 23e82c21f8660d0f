"""The bridge process as a Jupyter kernel: ``interrupt_request`` stops a busy cell, shutdown
leaves no process (bridge or kernel), a dead kernel ends the bridge, ``kernel_info`` on the
control channel, ``input()`` through the stdin channel."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

from tests.jupyter.harness import TIMEOUT, collect, execute, kernel, plain, reply_to

pytestmark = pytest.mark.timeout(180)


def _gone(pid: int, within: float = 30.0) -> bool:
    """Whether process ``pid`` is gone (or a zombie) within ``within`` seconds."""
    import psutil

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _kernel_pid(kc: Any) -> int:
    return int(plain(execute(kc, "import os; os.getpid()").of_type("execute_result")[0]))


def test_interrupt_request_stops_a_busy_loop_and_the_kernel_goes_on() -> None:
    with kernel() as (km, kc):
        assert km.kernel_spec.interrupt_mode == "message"
        msg_id = kc.execute("print('looping', flush=True)\nwhile True: pass")
        while True:  # the cell runs once its first output arrives
            msg = kc.get_iopub_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream":
                break
        started = time.perf_counter()
        km.interrupt_kernel()  # interrupt_mode "message": an interrupt_request on control
        reply = reply_to(kc, msg_id)
        elapsed = time.perf_counter() - started
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
        print(f"interrupt_request to execute_reply: {elapsed:.3f} s")  # the figure: benchmarks/jupyter_bridge
        assert plain(execute(kc, "40 + 2").of_type("execute_result")[0]) == "42"


def test_shutdown_leaves_no_process() -> None:
    with kernel() as (km, kc):
        kernel_pid = _kernel_pid(kc)
        bridge_pid = km.provisioner.process.pid
        assert kernel_pid != bridge_pid
        execute(kc, "import time")
        kc.execute("time.sleep(600)")  # a cell still running at shutdown
        km.shutdown_kernel(now=False)  # shutdown_request on control
        assert not km.is_alive()
    assert _gone(bridge_pid) and _gone(kernel_pid)


def test_kernel_death_ends_the_bridge() -> None:
    with kernel() as (km, kc):
        kernel_pid = _kernel_pid(kc)
        kc.execute("import os; os._exit(3)")
        assert _gone(kernel_pid)
        deadline = time.monotonic() + TIMEOUT
        while km.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not km.is_alive()  # the kernel manager sees a dead kernel (and may restart it)
        assert km.provisioner is None or km.provisioner.process is None or km.provisioner.process.poll() == 1


def test_kernel_info_on_control_and_shell() -> None:
    with kernel() as (_km, kc):
        for channel in (kc.control_channel, kc.shell_channel):
            msg = kc.session.msg("kernel_info_request", {})
            channel.send(msg)
            get = kc.get_control_msg if channel is kc.control_channel else kc.get_shell_msg
            reply = get(timeout=TIMEOUT)
            while reply["parent_header"]["msg_id"] != msg["header"]["msg_id"]:
                reply = get(timeout=TIMEOUT)
            content = reply["content"]
            assert content["implementation"] == "amphikernel" and content["protocol_version"] == "5.3"
            assert content["language_info"]["name"] == "python"


def test_input_through_the_stdin_channel() -> None:
    with kernel() as (_km, kc):
        msg_id = kc.execute("name = input('name? ')\nprint('hello', name)", allow_stdin=True)
        request = kc.get_stdin_msg(timeout=TIMEOUT)
        assert request["msg_type"] == "input_request" and request["content"]["prompt"] == "name? "
        assert request["parent_header"]["msg_id"] == msg_id
        kc.input("amphi")
        out = collect(kc, msg_id)
        assert "hello amphi\n" in "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream")
        assert reply_to(kc, msg_id)["content"]["status"] == "ok"
        # A client that does not take input: input() reads '' and the client is told.
        reply = execute(kc, "repr(input('x? '))", allow_stdin=False)
        assert plain(reply.of_type("execute_result")[0]) == "\"''\""
        assert any("does not accept input" in m["content"]["text"] for m in reply.of_type("stream"))


def test_stop_on_error_aborts_queued_requests() -> None:
    with kernel() as (_km, kc):
        first = kc.execute("import time; time.sleep(1); 1 / 0")
        queued = kc.execute("print('never')")
        replies = {m: reply_to(kc, m)["content"]["status"] for m in (first, queued)}
        assert replies == {first: "error", queued: "aborted"}
        assert plain(execute(kc, "'alive'").of_type("execute_result")[0]) == "'alive'"


def test_no_process_is_left_by_the_module() -> None:
    """Nothing the tests above started outlives them: no bridge child of this process."""
    import psutil

    children = [p for p in psutil.Process(os.getpid()).children(recursive=True)
                if "subprocess_host.jupyter" in " ".join(p.cmdline())]  # fmt: skip
    assert all(_gone(p.pid, 10) for p in children)


def test_restart_gives_a_fresh_kernel_and_ends_the_old_processes() -> None:
    with kernel() as (km, kc):
        execute(kc, "kept = 1")
        old_kernel, old_bridge = _kernel_pid(kc), km.provisioner.process.pid
        km.restart_kernel(now=False)  # shutdown_request(restart=True), then a new bridge
        kc.wait_for_ready(timeout=TIMEOUT)
        assert _gone(old_bridge) and _gone(old_kernel)
        assert plain(execute(kc, "'kept' in globals()").of_type("execute_result")[0]) == "False"
        assert _kernel_pid(kc) not in (old_kernel, old_bridge)


def test_a_kernel_that_cannot_start_ends_the_bridge(jupyter_home: Any) -> None:
    from jupyter_client.manager import KernelManager

    from subprocess_host.jupyter.kernelspec import install, uninstall

    install(name="amphi-broken", user=True, kernel_python=str(jupyter_home / "no-such-python"))
    km = KernelManager(kernel_name="amphi-broken")
    try:
        km.start_kernel()
        process = km.provisioner.process
        assert process.wait(timeout=TIMEOUT) == 1
        assert not km.is_alive()
    finally:
        km.cleanup_resources()
        uninstall("amphi-broken")
