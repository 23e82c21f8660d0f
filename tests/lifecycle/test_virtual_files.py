"""Tests for lifecycle.virtual_files: real stores, real shared memory, real second processes."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle import context
from lifecycle.context import KernelContext, NoKernelContextError
from lifecycle.virtual_files import (
    INLINE_LIMIT,
    MAX_FILENAME_BYTES,
    Download,
    InMemoryStore,
    InvalidVirtualFileName,
    SharedMemoryStore,
    StoreClosedError,
    VirtualFile,
    VirtualFileNotFoundError,
    VirtualFilesDisabledError,
    VirtualFileStore,
    create_store,
    download,
    publish,
    read_shared,
)
from tests.lifecycle.harness import IN_PYODIDE, needs_subprocess, needs_threads

REPO_ROOT = Path(__file__).resolve().parents[2]
SHM_DIR = Path("/dev/shm")
TEN_MB = 10 * 1024 * 1024

needs_dev_shm = pytest.mark.skipif(
    IN_PYODIDE or not SHM_DIR.is_dir(), reason="needs shared memory in /dev/shm (Linux; not Pyodide)"
)
STORES = ["in_memory"] if IN_PYODIDE else ["in_memory", "shared_memory"]
"""Store kinds the ``any_store`` tests run on (Pyodide has no shared memory)."""


# ------------------------------------------------------------------------------------ helpers


def amphi_segments(pids: set[int] | None = None) -> set[str]:
    """``amphi_*`` entries of /dev/shm, optionally only those created by ``pids``."""
    names = {p.name for p in SHM_DIR.iterdir() if p.name.startswith("amphi_")}
    if pids is None:
        return names
    prefixes = tuple(f"amphi_{pid:x}_" for pid in pids)
    return {name for name in names if name.startswith(prefixes)}


@cache
def pyenv_python(minor: str) -> str | None:
    """Newest pyenv-installed interpreter for ``minor`` (e.g. ``"3.10"``), or ``None``."""
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    listed = subprocess.run(
        [pyenv, "versions", "--bare"], capture_output=True, text=True, check=False
    )
    versions = [v for v in listed.stdout.split() if re.fullmatch(rf"{re.escape(minor)}\.\d+", v)]
    if not versions:
        return None
    newest = max(versions, key=lambda v: int(v.rsplit(".", 1)[1]))
    prefix = subprocess.run(
        [pyenv, "prefix", newest], capture_output=True, text=True, check=False
    ).stdout.strip()
    executable = Path(prefix) / "bin" / "python"
    return str(executable) if prefix and executable.exists() else None


def interpreter(version: str) -> str:
    """``sys.executable`` for ``"current"``, else a pyenv interpreter (skips if missing)."""
    if version == "current":
        return sys.executable
    python = pyenv_python(version)
    if python is None:
        pytest.skip(f"Python {version} is not installed through pyenv")
    return python


def run_python(python: str, code: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run ``code`` in a fresh interpreter that imports the repo from ``REPO_ROOT``."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [python, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        env=env,
        timeout=90,
        check=False,
    )


READER = """
import sys
from lifecycle.virtual_files import read_shared
sys.stdout.buffer.write(read_shared(sys.argv[1], int(sys.argv[2])))
"""


def read_in_other_process(file: VirtualFile, python: str = sys.executable) -> bytes:
    assert file.shm_name is not None
    proc = run_python(python, READER, file.shm_name, str(file.size))
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr == b"", proc.stderr.decode()  # e.g. no resource-tracker warning
    return proc.stdout


@contextlib.contextmanager
def running_cell(store: VirtualFileStore | None, cell_id: str = "c1") -> Iterator[KernelContext]:
    """A real KernelContext made current, as the kernel does while a cell runs."""
    ctx = KernelContext(lambda _notification: None, virtual_files=store)
    ctx.cell_id = cell_id
    token = context.activate(ctx)
    try:
        yield ctx
    finally:
        context.deactivate(token)


# ----------------------------------------------------------------------------------- fixtures


@pytest.fixture
def memory_store() -> Iterator[InMemoryStore]:
    store = InMemoryStore()
    yield store
    store.shutdown()


@pytest.fixture
def spawned_pids() -> Iterator[set[int]]:
    """Leak check: after the test, no /dev/shm/amphi_* segment created by this process or by
    any child pid the test adds to the yielded set (other test sessions may run in parallel,
    so only our own segments are considered)."""
    if not SHM_DIR.is_dir():
        pytest.skip("needs /dev/shm (Linux)")
    pids = {os.getpid()}
    before = amphi_segments(pids)
    yield pids
    leaked = amphi_segments(pids) - before
    assert not leaked, f"shared-memory segments leaked: {sorted(leaked)}"


@pytest.fixture
def shm_store(spawned_pids: set[int]) -> Iterator[SharedMemoryStore]:
    store = SharedMemoryStore()
    yield store
    store.shutdown()


@pytest.fixture(params=STORES)
def any_store(request: pytest.FixtureRequest) -> Iterator[VirtualFileStore]:
    if request.param == "shared_memory":
        store: VirtualFileStore = request.getfixturevalue("shm_store")
        yield store
    else:
        yield request.getfixturevalue("memory_store")


# ---------------------------------------------------------------------------------- in memory


def test_create_describes_the_file(any_store: VirtualFileStore) -> None:
    file = any_store.create(b"\x89PNG data", "plot.png", owner="c1")
    assert isinstance(file, VirtualFile)
    assert file.filename == "plot.png"
    assert file.mimetype == "image/png"
    assert file.size == 9
    assert file.owner == "c1"
    assert file.url == f"@file/{file.file_id}-plot.png"
    assert (file.shm_name is not None) == isinstance(any_store, SharedMemoryStore)


def test_read_get_contains_len(any_store: VirtualFileStore) -> None:
    assert len(any_store) == 0
    first = any_store.create(b"one", "a.txt")
    second = any_store.create(bytearray(b"two"), "b.txt")
    assert len(any_store) == 2
    assert any_store.read(first.url) == b"one"
    assert any_store.read(first.file_id) == b"one"
    assert any_store.read(second.url) == b"two"
    assert any_store.get(first.url) == first
    assert any_store.get(second.file_id) == second
    assert first.url in any_store and second.file_id in any_store
    assert any_store.files() == [first, second]


def test_same_filename_gets_distinct_unguessable_ids(memory_store: InMemoryStore) -> None:
    files = [memory_store.create(b"x", "same.txt") for _ in range(200)]
    ids = {f.file_id for f in files}
    assert len(ids) == 200
    for file_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", file_id)  # token_urlsafe(16): 128 bits
    assert len({f.url for f in files}) == 200


def test_url_quotes_the_filename_and_accepts_both_forms(memory_store: InMemoryStore) -> None:
    name = "report 100% (v2)#é?.csv"
    file = memory_store.create(b"a,b\n", name)
    assert file.url == f"@file/{file.file_id}-{quote(name, safe='')}"
    assert "/" not in file.url.removeprefix("@file/")
    assert memory_store.read(file.url) == b"a,b\n"
    # a server that already decoded the path may hand over the raw name
    assert memory_store.read(unquote(file.url)) == b"a,b\n"


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("plot.png", "image/png"),
        ("PLOT.PNG", "image/png"),
        ("figure.svg", "image/svg+xml"),
        ("table.csv", "text/csv"),
        ("page.html", "text/html"),
        ("data.json", "application/json"),
        ("archive.tar.gz", "application/gzip"),
        ("no_extension", "application/octet-stream"),
        ("weird.zzzunknown", "application/octet-stream"),
        ("data:x.png", "image/png"),
    ],
)
def test_mimetype_is_guessed_from_the_filename(
    memory_store: InMemoryStore, filename: str, expected: str
) -> None:
    assert memory_store.create(b"", filename).mimetype == expected


def test_explicit_mimetype_wins_and_is_validated(memory_store: InMemoryStore) -> None:
    file = memory_store.create(b"{}", "x.png", "application/json")
    assert file.mimetype == "application/json"
    with_params = memory_store.create(b"hi", "x.txt", 'text/plain; charset="utf-8"')
    assert with_params.mimetype == 'text/plain; charset="utf-8"'
    for bad in ["", "image", "text/html\r\nX-Injected: 1", "a/b,c", "text/plain;base64,x", "/x"]:
        with pytest.raises(ValueError, match="invalid mimetype"):
            memory_store.create(b"", "x.bin", bad)
    assert len(memory_store) == 2


def test_release(any_store: VirtualFileStore) -> None:
    kept = any_store.create(b"keep", "keep.txt")
    gone = any_store.create(b"gone", "gone.txt")
    assert any_store.release(gone.url) is True
    assert any_store.release(gone.url) is False
    assert any_store.release("never-existed") is False
    assert gone.url not in any_store and any_store.get(gone.file_id) is None
    with pytest.raises(VirtualFileNotFoundError):
        any_store.read(gone.url)
    assert any_store.read(kept.file_id) == b"keep"
    assert len(any_store) == 1


def test_release_owner(any_store: VirtualFileStore) -> None:
    a1 = any_store.create(b"1", "1.txt", owner="a")
    a2 = any_store.create(b"2", "2.txt", owner="a")
    b1 = any_store.create(b"3", "3.txt", owner="b")
    none = any_store.create(b"4", "4.txt")
    assert any_store.release_owner("a") == 2
    assert a1.url not in any_store and a2.url not in any_store
    assert any_store.read(b1.url) == b"3" and any_store.read(none.url) == b"4"
    assert any_store.release_owner("a") == 0
    assert len(any_store) == 2


def test_shutdown_releases_everything_and_is_idempotent(any_store: VirtualFileStore) -> None:
    files = [any_store.create(bytes([i]) * i, f"{i}.bin", owner="c") for i in range(5)]
    any_store.shutdown()
    assert any_store.closed
    assert len(any_store) == 0
    assert all(f.url not in any_store for f in files)
    any_store.shutdown()
    with pytest.raises(StoreClosedError):
        any_store.create(b"late", "late.txt")
    assert len(any_store) == 0


def test_store_is_a_context_manager() -> None:
    with InMemoryStore() as store:
        store.create(b"x", "x.txt")
        assert len(store) == 1
    assert store.closed and len(store) == 0


def test_data_is_copied_and_any_buffer_is_accepted(memory_store: InMemoryStore) -> None:
    buffer = bytearray(b"abcdef")
    file = memory_store.create(buffer, "a.bin")
    buffer[0] = ord("Z")
    assert memory_store.read(file.url) == b"abcdef"
    strided = memoryview(b"0123456789")[::2]  # not contiguous
    assert memory_store.read(memory_store.create(strided, "s.bin").url) == b"02468"
    wide = memoryview(bytearray(8)).cast("I")  # 2 unsigned ints = 8 bytes
    assert memory_store.create(wide, "w.bin").size == 8
    with pytest.raises(TypeError):
        memory_store.create("text", "t.txt")  # type: ignore[arg-type]
    assert len(memory_store) == 3


def test_not_found_error_is_a_key_error_with_a_clear_message(
    memory_store: InMemoryStore,
) -> None:
    with pytest.raises(KeyError) as excinfo:
        memory_store.read("@file/nope-x.txt")
    assert isinstance(excinfo.value, VirtualFileNotFoundError)
    assert str(excinfo.value) == "no virtual file '@file/nope-x.txt'"


@needs_dev_shm
def test_create_store(spawned_pids: set[int]) -> None:
    assert create_store(None) is None
    memory = create_store("in_memory")
    assert isinstance(memory, InMemoryStore)
    shared = create_store("shared_memory")
    assert isinstance(shared, SharedMemoryStore)
    shared.shutdown()
    with pytest.raises(ValueError, match="unknown virtual-file storage 'disk'"):
        create_store("disk")  # type: ignore[arg-type]


@needs_subprocess
def test_imports_without_shared_memory_or_msgspec() -> None:
    """What Pyodide (no shared memory) and a bare server interpreter (no msgspec) need."""
    code = """
    import sys
    for blocked in ("multiprocessing.shared_memory", "_posixshmem", "mmap"):
        sys.modules[blocked] = None  # importing it now raises ImportError
    from lifecycle import virtual_files as vf
    assert "msgspec" not in sys.modules, "virtual_files must import only the stdlib"
    store = vf.create_store("in_memory")
    file = store.create(b"ok", "ok.txt", owner="c1")
    assert store.read(file.url) == b"ok" and store.release_owner("c1") == 1
    for attempt in (lambda: vf.create_store("shared_memory"), lambda: vf.read_shared("amphi_1_ab", 1)):
        try:
            attempt()
        except RuntimeError as exc:
            print("unavailable:", exc)
    """
    proc = run_python(sys.executable, code)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 2 and all(line.startswith("unavailable: ") for line in lines)
    assert "storage='in_memory'" in lines[0]


# ---------------------------------------------------------------------------------- bad names


BAD_NAMES = [
    "../x",
    "a/b",
    "/etc/passwd",
    "a\\b",
    "..\\x",
    "a\x00b",
    "",
    ".",
    "..",
    "a\nb",
    "a\rb",
    "tab\there",
    "bell\x07",
    "del\x7f",
    "nel\x85",  # C1 control
    "line\u2028sep",
    "evil\u202egnp.exe",  # right-to-left override
    "x" * (MAX_FILENAME_BYTES + 1),
    "é" * 128,  # 128 characters but 256 bytes
    "surrogate\ud800.txt",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_filenames_are_rejected(any_store: VirtualFileStore, name: str) -> None:
    existing = any_store.create(b"ok", "ok.txt")
    with pytest.raises(InvalidVirtualFileName) as excinfo:
        any_store.create(b"data", name)
    assert isinstance(excinfo.value, ValueError)
    assert "filename" in str(excinfo.value)
    assert any_store.files() == [existing]


def test_non_string_filename_is_rejected(memory_store: InMemoryStore) -> None:
    with pytest.raises(InvalidVirtualFileName, match="must be a str"):
        memory_store.create(b"", b"name.txt")  # type: ignore[arg-type]
    assert len(memory_store) == 0


def test_longest_names_are_accepted(memory_store: InMemoryStore) -> None:
    ascii_name = "x" * MAX_FILENAME_BYTES
    accented = "é" * 127  # 254 bytes
    for name in (ascii_name, accented, "..hidden", "a..b", " spaced name .txt", "emoji 📈.png"):
        file = memory_store.create(b"ok", name)
        assert memory_store.read(file.url) == b"ok"
        assert memory_store.get(file.url) == file


def test_crafted_urls_never_read_anything_else(any_store: VirtualFileStore) -> None:
    file = any_store.create(b"secret", "real.txt")
    other_id = "A" * len(file.file_id)
    crafted = [
        "@file/../../etc/passwd",
        "@file/..%2F..%2Fetc%2Fpasswd",
        f"@file/{file.file_id}-other-name",
        f"@file/{file.file_id}-real.txt/../../etc/passwd",
        f"@file/{file.file_id}-real.txt%00",
        f"@file/{file.file_id}",
        f"@file/{file.file_id}real.txt",
        f"@file/{file.file_id}_real.txt",
        f"@file/{other_id}-real.txt",
        f"@file/{file.file_id[:-1]}-real.txt",
        f"/@file/{file.file_id}-REAL.TXT",
        f"{file.file_id}-real.txt",
        f"{file.file_id}/",
        "/etc/passwd",
        "@file/",
        "",
    ]
    for url in crafted:
        with pytest.raises(VirtualFileNotFoundError):
            any_store.read(url)
        assert any_store.get(url) is None
        assert url not in any_store
        assert any_store.release(url) is False
    for not_a_string in (None, 42, b"@file/x"):
        assert not_a_string not in any_store
    assert len(any_store) == 1
    assert any_store.read(file.url) == b"secret"


@settings(
    max_examples=300, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(min_size=0, max_size=140), data=st.binary(max_size=64))
def test_any_name_is_rejected_or_round_trips(
    memory_store: InMemoryStore, name: str, data: bytes
) -> None:
    before = len(memory_store)
    try:
        file = memory_store.create(data, name)
    except InvalidVirtualFileName:
        assert len(memory_store) == before
        return
    assert file.filename == name
    assert memory_store.read(file.url) == data
    assert memory_store.get(file.url) == file
    assert file.url.startswith("@file/") and "/" not in file.url.removeprefix("@file/")
    assert memory_store.release(file.url)


# ----------------------------------------------------------------------------- thread safety


@needs_threads
@pytest.mark.parametrize("kind", STORES)
def test_reads_from_one_thread_while_another_writes(kind: str, spawned_pids: set[int]) -> None:
    store = create_store(kind)  # type: ignore[arg-type]
    assert store is not None
    published: list[str] = []
    errors: list[BaseException] = []
    reads = 0
    done = threading.Event()

    first_read = threading.Event()

    def writer() -> None:
        try:
            for i in range(300):
                file = store.create(str(i).encode() * 50, f"{i}.txt", owner=f"cell{i % 3}")
                published.append(file.url)
                if i == 150:  # keep writing only once the reader has read concurrently
                    first_read.wait(10)
                if i % 10 == 9:
                    store.release_owner(f"cell{i % 3}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def reader() -> None:
        nonlocal reads
        try:
            while not done.is_set():
                for url in published[-20:]:
                    index = url.rsplit("-", 1)[1].removesuffix(".txt")
                    try:
                        content = store.read(url)
                    except VirtualFileNotFoundError:
                        continue  # released meanwhile: fine, never a partial read
                    assert content == index.encode() * 50
                    reads += 1
                    first_read.set()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    store.shutdown()
    assert errors == []
    assert reads > 0
    assert len(published) == 300


# ----------------------------------------------------------------------------- shared memory


@needs_dev_shm
@pytest.mark.parametrize("reader_version", ["current", "3.10", "3.11", "3.13"])
def test_ten_megabytes_read_by_another_process(
    shm_store: SharedMemoryStore, reader_version: str
) -> None:
    python = interpreter(reader_version)
    data = os.urandom(TEN_MB)
    file = shm_store.create(data, "big.bin", owner="c1")
    assert file.size == TEN_MB
    assert file.shm_name is not None and file.shm_name.startswith(f"amphi_{os.getpid():x}_")
    assert (SHM_DIR / file.shm_name).exists()

    assert read_in_other_process(file, python) == data

    # the reader has exited: the segment must still be there, intact
    assert (SHM_DIR / file.shm_name).exists()
    assert shm_store.read(file.url) == data
    assert read_in_other_process(file, python) == data


@needs_dev_shm
def test_release_and_shutdown_unlink_segments(shm_store: SharedMemoryStore) -> None:
    first = shm_store.create(b"first", "first.txt")
    second = shm_store.create(b"second", "second.txt")
    third = shm_store.create(b"third", "third.txt", owner="c9")
    names = {f.shm_name for f in (first, second, third)}
    assert names <= amphi_segments()

    assert shm_store.release(first.url)
    assert first.shm_name not in amphi_segments()
    assert first.shm_name is not None
    with pytest.raises(VirtualFileNotFoundError):
        read_shared(first.shm_name, first.size)

    assert shm_store.release_owner("c9") == 1
    assert third.shm_name not in amphi_segments()

    shm_store.shutdown()
    assert not names & amphi_segments()
    shm_store.shutdown()  # idempotent


@needs_dev_shm
def test_released_segment_is_not_found_in_another_process(shm_store: SharedMemoryStore) -> None:
    file = shm_store.create(b"bye", "bye.txt")
    assert shm_store.release(file.file_id)
    assert file.shm_name is not None
    code = """
    import sys
    from lifecycle.virtual_files import VirtualFileNotFoundError, read_shared
    try:
        read_shared(sys.argv[1], 3)
    except VirtualFileNotFoundError as exc:
        print("not found:", exc)
    """
    proc = run_python(sys.executable, code, file.shm_name)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().startswith("not found: no shared-memory segment")


@needs_dev_shm
def test_zero_byte_file(shm_store: SharedMemoryStore) -> None:
    file = shm_store.create(b"", "empty.txt")
    assert file.size == 0
    assert file.shm_name is not None
    assert (SHM_DIR / file.shm_name).stat().st_size >= 1
    assert shm_store.read(file.url) == b""
    assert read_shared(file.shm_name, 0) == b""
    assert read_in_other_process(file) == b""
    assert shm_store.release(file.url)
    assert not (SHM_DIR / file.shm_name).exists()


@needs_dev_shm
def test_size_is_honoured_when_the_segment_is_larger(shm_store: SharedMemoryStore) -> None:
    file = shm_store.create(b"abc", "abc.txt")
    assert file.shm_name is not None
    assert (SHM_DIR / file.shm_name).stat().st_size >= 3
    assert read_shared(file.shm_name, 3) == b"abc"
    assert read_shared(file.shm_name, 2) == b"ab"
    with pytest.raises(ValueError, match="fewer than"):
        read_shared(file.shm_name, 10**6)


@needs_dev_shm
def test_read_shared_rejects_foreign_names_and_bad_sizes(shm_store: SharedMemoryStore) -> None:
    file = shm_store.create(b"abc", "abc.txt")
    assert file.shm_name is not None
    for name in ["psm_1234", "../amphi_1_ab", "amphi_1_ab/../x", "/amphi_1_ab", "amphi_", ""]:
        with pytest.raises(ValueError, match="not an amphikernel shared-memory segment"):
            read_shared(name, 1)
    with pytest.raises(ValueError, match="non-negative"):
        read_shared(file.shm_name, -1)
    with pytest.raises(VirtualFileNotFoundError):
        read_shared("amphi_1_0123456789ab", 1)
    assert shm_store.read(file.url) == b"abc"


@needs_dev_shm
def test_in_process_store_read_keeps_the_segment(shm_store: SharedMemoryStore) -> None:
    file = shm_store.create(b"x" * 5000, "x.bin")
    for _ in range(3):
        assert shm_store.read(file.url) == b"x" * 5000
        assert read_shared(file.shm_name or "", 5000) == b"x" * 5000
    assert file.shm_name in amphi_segments()


KERNEL_SIDE = """
import json, os, subprocess, sys
from lifecycle.virtual_files import create_store, read_shared

store = create_store("shared_memory")
big = os.urandom(3 * 1024 * 1024)
a = store.create(big, "a.bin", owner="c1")
b = store.create(b"", "b.txt", owner="c2")
c = store.create(b"cc", "c.txt", owner="c2")
assert store.read(a.url) == big and read_shared(a.shm_name, a.size) == big  # same process
reader = subprocess.run(
    [sys.executable, "-c",
     "import sys; from lifecycle.virtual_files import read_shared as r;"
     "sys.stdout.buffer.write(r(sys.argv[1], int(sys.argv[2])))",
     a.shm_name, str(a.size)],
    capture_output=True, check=True,
)
assert reader.stdout == big, "reader got different bytes"
assert reader.stderr == b"", reader.stderr
assert os.path.exists("/dev/shm/" + a.shm_name), "reader unlinked the segment"
assert store.read(a.url) == big
assert store.release_owner("c2") == 2
mode = sys.argv[1]
if mode == "shutdown":
    store.shutdown()
    assert not os.path.exists("/dev/shm/" + a.shm_name)
print(json.dumps({"pid": os.getpid(), "names": [a.shm_name, b.shm_name, c.shm_name]}))
sys.stdout.flush()
if mode == "crash":
    os._exit(0)  # no atexit, no finalizers: the resource tracker must clean up
"""


@needs_dev_shm
@pytest.mark.parametrize("version", ["current", "3.10", "3.11", "3.13"])
@pytest.mark.parametrize("mode", ["shutdown", "forgotten", "crash"])
def test_kernel_side_lifecycle_on_each_python(
    version: str, mode: str, spawned_pids: set[int]
) -> None:
    """The kernel side runs in a child interpreter of each version: in-process reads, a
    grandchild reader, release and shutdown leave nothing behind and print no warnings; a
    store never shut down is cleaned at exit (quietly), and a killed kernel's segments are
    unlinked by its resource tracker."""
    proc = run_python(interpreter(version), KERNEL_SIDE, mode)
    assert proc.returncode == 0, proc.stderr.decode()
    report = json.loads(proc.stdout)
    spawned_pids.add(report["pid"])
    assert all(name.startswith(f"amphi_{report['pid']:x}_") for name in report["names"])
    assert not set(report["names"]) & amphi_segments()
    if mode == "crash":
        assert b"leaked shared_memory" in proc.stderr  # the tracker did the cleanup
    else:
        assert proc.stderr == b"", proc.stderr.decode()


# ------------------------------------------------------------------------------ author helpers


def test_publish_stores_a_file_owned_by_the_running_cell(memory_store: InMemoryStore) -> None:
    with running_cell(memory_store, "c1"):
        url = publish(b"<svg/>", "chart.svg")
    assert url.startswith("@file/") and url.endswith("-chart.svg")
    file = memory_store.get(url)
    assert file is not None
    assert file.owner == "c1" and file.mimetype == "image/svg+xml"
    assert memory_store.read(url) == b"<svg/>"
    assert memory_store.release_owner("c1") == 1
    assert url not in memory_store and len(memory_store) == 0


@needs_dev_shm
def test_publish_to_shared_memory(shm_store: SharedMemoryStore) -> None:
    with running_cell(shm_store, "c1"):
        url = publish(b"abc", "abc.bin", "application/x-test")
    file = shm_store.get(url)
    assert file is not None and file.owner == "c1" and file.mimetype == "application/x-test"
    assert read_in_other_process(file) == b"abc"
    assert shm_store.release_owner("c1") == 1
    assert file.shm_name not in amphi_segments()


def test_publish_without_store_inlines_small_data() -> None:
    with running_cell(None):
        url = publish(b"hello", "hello.txt")
        at_limit = publish(b"\x00" * INLINE_LIMIT, "limit.bin")
    assert url == "data:text/plain;base64," + base64.b64encode(b"hello").decode()
    prefix = "data:application/octet-stream;base64,"
    assert at_limit.startswith(prefix)
    assert base64.b64decode(at_limit.removeprefix(prefix)) == b"\x00" * INLINE_LIMIT


def test_publish_without_store_refuses_large_data() -> None:
    size = INLINE_LIMIT + 1
    with running_cell(None), pytest.raises(VirtualFilesDisabledError) as excinfo:
        publish(b"x" * size, "big.bin")
    message = str(excinfo.value)
    assert isinstance(excinfo.value, RuntimeError)
    assert str(size) in message and str(INLINE_LIMIT) in message
    assert "'big.bin'" in message and "disabled" in message


def test_publish_validates_names_even_without_store() -> None:
    with running_cell(None), pytest.raises(InvalidVirtualFileName):
        publish(b"x", "../x")


@needs_threads
def test_publish_outside_a_cell_raises() -> None:
    outcome: list[object] = []

    def call() -> None:  # a fresh thread has no current context
        if context.current_or_none() is not None:
            outcome.append("skip")
            return
        try:
            publish(b"x", "x.txt")
        except NoKernelContextError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    thread.join()
    if outcome == ["skip"]:
        pytest.skip("another live kernel context is registered as the fallback")
    assert len(outcome) == 1 and isinstance(outcome[0], NoKernelContextError)


def test_download_bundle(memory_store: InMemoryStore) -> None:
    with running_cell(memory_store, "c7"):
        link = download(b"a,b\n1,2\n", "table.csv", label="Get the table")
    assert isinstance(link, Download)
    bundle = link._repr_mimebundle_()
    assert link.url is not None
    assert bundle["text/html"] == f'<a href="{link.url}" download="table.csv">Get the table</a>'
    assert "table.csv" in bundle["text/plain"] and "8 bytes" in bundle["text/plain"]
    file = memory_store.get(link.url)
    assert file is not None and file.owner == "c7" and file.mimetype == "text/csv"
    assert memory_store.read(link.url) == b"a,b\n1,2\n"
    assert link._repr_mimebundle_(include={"text/plain"}).keys() == {"text/plain"}
    assert link._repr_mimebundle_(exclude={"text/plain"}).keys() == {"text/html"}


def test_download_escapes_everything(memory_store: InMemoryStore) -> None:
    name = "a\"b'<i>&.txt"
    with running_cell(memory_store):
        link = download("<text>", name, label='<script>alert("x")</script>')
    html = link._repr_mimebundle_()["text/html"]
    assert "<script>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert 'download="a&quot;b&#x27;&lt;i&gt;&amp;.txt"' in html
    assert link.url is not None
    assert f'href="{link.url.replace("&", "&amp;")}"' in html
    assert memory_store.read(link.url) == b"<text>"
    assert link.mimetype == "text/plain;charset=utf-8"


def test_download_of_text_is_utf8(memory_store: InMemoryStore) -> None:
    with running_cell(memory_store):
        link = download("héllo", "notes.md")
        json_link = download('{"a": 1}', "data.json")
    assert link.url is not None and json_link.url is not None
    assert memory_store.read(link.url) == "héllo".encode()
    assert link.size == 6
    assert link.mimetype == "text/markdown;charset=utf-8"
    assert json_link.mimetype == "application/json"
    assert link._repr_mimebundle_()["text/html"].endswith(">notes.md</a>")


def test_download_without_store_small_uses_a_data_url() -> None:
    with running_cell(None):
        link = download(b"tiny", "tiny.bin")
    assert link.url == "data:application/octet-stream;base64," + base64.b64encode(b"tiny").decode()
    assert link._repr_mimebundle_()["text/html"].startswith('<a href="data:')


def test_download_without_store_large_renders_a_notice() -> None:
    size = INLINE_LIMIT + 10
    with running_cell(None):
        link = download(b"x" * size, "huge <1>.bin")
    assert link.url is None
    bundle = link._repr_mimebundle_()
    assert bundle.keys() == {"text/plain", "text/html"}
    for text in bundle.values():
        assert "unavailable" in text and str(size) in text and str(INLINE_LIMIT) in text
        assert "disabled" in text
    assert "<a " not in bundle["text/html"]
    assert "huge &lt;1&gt;.bin" in bundle["text/html"]


def test_download_rejects_bad_names(memory_store: InMemoryStore) -> None:
    with running_cell(memory_store), pytest.raises(InvalidVirtualFileName):
        download(b"x", "a/b.txt")
    assert len(memory_store) == 0
