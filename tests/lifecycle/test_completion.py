"""Tests for `lifecycle.completion`: real jedi, real threads, live objects, no mocks."""

from __future__ import annotations

import collections
import json
import os
import queue
import subprocess
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jedi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle import completion, protocol
from lifecycle.completion import CompletionWorker, answer, complete, fallback_complete, warm_up
from tests.lifecycle.harness import needs_subprocess, needs_threads

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 20.0

# ------------------------------------------------------------------------ live objects

EFFECTS: list[str] = []
"""Every side effect of the objects below appends here; completion must leave it empty."""


class Inner:
    def __init__(self) -> None:
        self.value = 42
        self.values_seen = 0


class Thing:
    """A thing with live attributes."""

    class_level = "c"

    def __init__(self) -> None:
        self.live_attr = 1
        self.live_other = "x"
        self.inner = Inner()
        self._private_attr = 2

    def method(self, a: int, b: int = 2) -> int:
        """Add b to a.

        Longer description that must not appear.
        """
        return a + b


class Sneaky:
    """Every hook records that it ran."""

    def __init__(self) -> None:
        self.live_attr = 1

    @property
    def prop(self) -> int:
        EFFECTS.append("property")
        return 1

    def __getattr__(self, name: str) -> Any:
        EFFECTS.append(f"__getattr__({name})")
        raise AttributeError(name)

    def __dir__(self) -> list[str]:
        EFFECTS.append("__dir__")
        return sorted(object.__dir__(self))

    def method(self, a: int, b: int = 2) -> int:
        EFFECTS.append("method")
        return a

    def __call__(self, x: int) -> int:
        EFFECTS.append("__call__")
        return x

    def __getitem__(self, key: object) -> int:
        EFFECTS.append("__getitem__")
        return 1

    def __iter__(self) -> Any:
        EFFECTS.append("__iter__")
        return iter([1])

    def __len__(self) -> int:
        EFFECTS.append("__len__")
        return 1

    def __bool__(self) -> bool:
        EFFECTS.append("__bool__")
        return True

    def __eq__(self, other: object) -> bool:
        EFFECTS.append("__eq__")
        return True

    def __lt__(self, other: object) -> bool:
        EFFECTS.append("__lt__")
        return True

    def __add__(self, other: object) -> int:
        EFFECTS.append("__add__")
        return 1

    def __neg__(self) -> int:
        EFFECTS.append("__neg__")
        return -1

    def __contains__(self, item: object) -> bool:
        EFFECTS.append("__contains__")
        return True

    def __enter__(self) -> Sneaky:
        EFFECTS.append("__enter__")
        return self

    def __exit__(self, *exc: object) -> None:
        EFFECTS.append("__exit__")

    def __repr__(self) -> str:
        EFFECTS.append("__repr__")
        return "Sneaky()"

    def __hash__(self) -> int:
        EFFECTS.append("__hash__")
        return 1


class PropertyOnly:
    """No ``__getattr__``: only a property with a side effect."""

    def __init__(self) -> None:
        self.live_attr = 1

    @property
    def prop(self) -> int:
        EFFECTS.append("property")
        return 1

    @property
    def bare_prop(self):  # type: ignore[no-untyped-def]  # no annotation: jedi must evaluate it
        EFFECTS.append("bare property")
        return 1


def _lazy_module_getattr(name: str) -> Any:
    EFFECTS.append(f"module __getattr__({name})")
    raise AttributeError(name)


lazy_module = types.ModuleType("lazy_module")
lazy_module.value = 3  # type: ignore[attr-defined]
lazy_module.__getattr__ = _lazy_module_getattr  # type: ignore[method-assign]


def takes_sneaky(p: object = Sneaky()) -> None:  # a live default, on purpose
    """Take a sneaky default."""


def greet(name: str, punctuation: str = "!") -> str:
    """Say hello to someone.

    More text on a later line.
    """
    return f"hello {name}{punctuation}"


def make_namespace() -> dict[str, Any]:
    return {
        "__name__": "__main__",
        "__builtins__": __builtins__,
        "os": os,
        "json": json,
        "collections": collections,
        "my_var": 3,
        "my_other": "s",
        "thing": Thing(),
        "Thing": Thing,
        "sneaky": Sneaky(),
        "Sneaky": Sneaky,
        "sneakies": [Sneaky()],
        "sneaky_map": {"k": Sneaky()},
        "plain": PropertyOnly(),
        "lazy_module": lazy_module,
        "takes_sneaky": takes_sneaky,
        "greet": greet,
        "ñame": Thing(),
        "_hidden": 1,
        "__dunder_var": 2,
    }


@pytest.fixture
def ns() -> dict[str, Any]:
    EFFECTS.clear()
    return make_namespace()


def names(result: tuple[int, list[protocol.Completion]]) -> list[str]:
    return [c.name for c in result[1]]


def by_name(result: tuple[int, list[protocol.Completion]], name: str) -> protocol.Completion:
    matches = [c for c in result[1] if c.name == name]
    assert matches, f"{name!r} not in {names(result)[:30]}"
    return matches[0]


def at_end(code: str, ns: dict[str, Any], **kw: Any) -> tuple[int, list[protocol.Completion]]:
    return complete(code, len(code), ns, **kw)


# ----------------------------------------------------------------- jedi completions


def test_completes_a_global_from_its_prefix(ns: dict[str, Any]) -> None:
    start, comps = at_end("my_v", ns)
    assert start == 0
    assert [c.name for c in comps] == ["my_var"]
    assert comps[0].kind == "instance"
    assert all(isinstance(c, protocol.Completion) for c in comps)


def test_start_is_the_offset_of_the_word_being_completed(ns: dict[str, Any]) -> None:
    code = "x = 1; y = my_v"
    start, comps = at_end(code, ns)
    assert start == code.index("my_v")
    assert "my_var" in [c.name for c in comps]
    # cursor in the middle of a word: only the part before the cursor is the prefix
    code = "y = my_var + 1"
    cursor = code.index("my_var") + 4
    start, comps = complete(code, cursor, ns)
    assert start == code.index("my_var")
    assert "my_var" in [c.name for c in comps]


def test_completes_attributes_that_exist_only_on_the_live_instance(ns: dict[str, Any]) -> None:
    code = "thing.live_"
    start, comps = at_end(code, ns)
    assert start == len("thing.")
    assert sorted(c.name for c in comps) == ["live_attr", "live_other"]
    nested = at_end("thing.inner.val", ns)
    assert names(nested) == ["value", "values_seen"]


def test_completes_module_attributes(ns: dict[str, Any]) -> None:
    start, comps = at_end("os.pa", ns)
    assert start == 3
    path = [c for c in comps if c.name == "path"]
    assert path and path[0].kind == "module"
    assert all(c.name.lower().startswith("pa") for c in comps)
    assert "dumps" in names(at_end("json.du", ns))
    assert by_name(at_end("collections.Ord", ns), "OrderedDict").kind == "class"


def test_functions_carry_their_signature_and_first_doc_line(ns: dict[str, Any]) -> None:
    comp = by_name(at_end("gre", ns), "greet")
    assert comp.kind == "function"
    assert comp.signature.startswith("greet(")
    assert "name" in comp.signature and "punctuation" in comp.signature
    assert comp.doc == "Say hello to someone."
    method = by_name(at_end("thing.meth", ns), "method")
    assert method.signature.startswith("method(") and "b" in method.signature
    assert method.doc == "Add b to a."
    assert by_name(at_end("json.dum", ns), "dumps").signature.startswith("dumps(")


def test_doc_is_cut_to_about_200_characters(ns: dict[str, Any]) -> None:
    def long_doc() -> None:
        pass

    long_doc.__doc__ = "\n\n   " + "word " * 100
    ns["long_doc_function"] = long_doc
    comp = by_name(at_end("long_doc_f", ns), "long_doc_function")
    assert 0 < len(comp.doc) <= completion.DOC_MAX_CHARS
    assert comp.doc.startswith("word word")


def test_completes_keywords(ns: dict[str, Any]) -> None:
    comp = by_name(at_end("whi", ns), "while")
    assert comp.kind == "keyword"
    assert "import" in names(at_end("impo", ns))


def test_multiline_code_with_the_cursor_on_line_three(ns: dict[str, Any]) -> None:
    code = "a = 1\nb = 2\nc = my_v + 1\nd = a + b\n"
    cursor = code.index("my_v") + len("my_v")
    start, comps = complete(code, cursor, ns)
    assert start == code.index("my_v")
    assert [c.name for c in comps] == ["my_var"]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings(ns: dict[str, Any], newline: str) -> None:
    code = newline.join(["a = 1", "for i in range(3):", "    thing.live_a"])
    start, comps = at_end(code, ns)
    assert start == len(code) - len("live_a")
    assert [c.name for c in comps] == ["live_attr"]


def test_cursor_between_cr_and_lf_does_not_fail(ns: dict[str, Any]) -> None:
    code = "my_v\r\nx = 1"
    start, comps = complete(code, code.index("\n"), ns)
    assert start == 0
    assert [c.name for c in comps] == ["my_var"]


def test_non_ascii_text_before_the_cursor(ns: dict[str, Any]) -> None:
    code = 's = "naïve 🐍 日本語 ünïcode"\nt = "€" + "\U0001d518"; u = my_v'
    start, comps = at_end(code, ns)
    assert start == code.index("my_v")
    assert [c.name for c in comps] == ["my_var"]
    code = 'x = "🐍🐍"; ñame.live_a'
    start, comps = at_end(code, ns)
    assert start == len(code) - len("live_a")
    assert [c.name for c in comps] == ["live_attr"]
    # completing a non-ASCII identifier itself
    start, comps = at_end("y = ña", ns)
    assert start == 4
    assert "ñame" in [c.name for c in comps]


def test_public_names_come_before_private_ones(ns: dict[str, Any]) -> None:
    result = at_end("thing.", ns)
    listed = names(result)
    assert "live_attr" in listed and "_private_attr" in listed and "__class__" in listed
    first_private = next(i for i, n in enumerate(listed) if n.startswith("_"))
    assert all(n.startswith("_") for n in listed[first_private:])
    assert any(not n.startswith("_") for n in listed[:first_private])
    # typing "_" asks for private names: they are offered
    start, comps = at_end("thing._pr", ns)
    assert start == len("thing.")
    assert [c.name for c in comps] == ["_private_attr"]
    assert "_hidden" in names(at_end("_hid", ns))


def test_limit_caps_the_number_of_completions(ns: dict[str, Any]) -> None:
    assert len(at_end("os.", ns)[1]) == 100
    assert len(at_end("os.", ns, limit=5)[1]) == 5
    assert at_end("os.", ns, limit=0)[1] == []


def test_completion_inside_a_call_offers_parameters(ns: dict[str, Any]) -> None:
    code = "greet(punct"
    start, comps = at_end(code, ns)
    assert start == len("greet(")
    assert "punctuation=" in [c.name for c in comps]


def test_path_completion_inside_a_string(ns: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "data_file.csv").write_text("x")
    code = f'open("{tmp_path}/data_f'
    start, comps = at_end(code, ns)
    assert start == len(code) - len("data_f")
    # jedi closes the string after a file name: replacing code[start:] gives `...csv"`
    assert [(c.name, c.kind) for c in comps] == [('data_file.csv"', "path")]


# ---------------------------------------------------------------------- no side effects

SIDE_EFFECT_CASES = [
    "sneaky.",
    "sneaky.pr",
    "sneaky.prop.",
    "sneaky.live_attr.",
    "sneaky.missing.",
    "sneaky.method(",
    "sneaky.method(1, ",
    "sneaky.method(1).",
    "sneaky(",
    "sneaky(1).",
    "sneaky[0].",
    "sneaky['k'].",
    "sneakies[0].",
    "sneaky_map['k'].",
    "for item in sneaky:\n    item.",
    "with sneaky as s:\n    s.",
    "(sneaky == 1).",
    "(sneaky < 2).",
    "(sneaky + 1).",
    "(-sneaky).",
    "(not sneaky).",
    "(sneaky and 1).",
    "(1 in sneaky).",
    "len(sneaky).",
    "str(sneaky).",
    "sneaky if sneaky else 1",
    "x = sneaky\nx.",
    "Sneaky.",
    "Sneaky(",
    "takes_sneaky(",
    "takes_sn",
    "lazy_module.",
    "lazy_module.va",
    "lazy_module.missing.",
    "plain.",
    "plain.prop.",
    "plain.bare_prop.",
]


def effects_besides_dir() -> list[str]:
    """EFFECTS without ``__dir__``: jedi lists attributes with ``dir()`` (documented)."""
    return [e for e in EFFECTS if e != "__dir__"]


@pytest.mark.parametrize("code", SIDE_EFFECT_CASES)
def test_completion_runs_no_user_code(ns: dict[str, Any], code: str) -> None:
    start, comps = at_end(code, ns)
    assert effects_besides_dir() == []
    assert 0 <= start <= len(code)
    assert all(isinstance(c, protocol.Completion) for c in comps)


def test_property_and_getattr_are_not_triggered_by_completing_attributes(
    ns: dict[str, Any],
) -> None:
    comps = at_end("sneaky.", ns)[1]
    listed = [c.name for c in comps]
    assert "live_attr" in listed and "prop" in listed and "method" in listed
    assert effects_besides_dir() == []
    EFFECTS.clear()
    comps = at_end("plain.", ns)[1]
    assert {"live_attr", "prop"} <= {c.name for c in comps}
    assert EFFECTS == []
    # the property's annotated return type is still used, without running it
    assert "bit_length" in names(at_end("plain.prop.", ns))
    assert EFFECTS == []


def test_unsafe_jedi_setting_is_forced_off(ns: dict[str, Any]) -> None:
    before = jedi.settings.allow_unsafe_interpreter_executions
    jedi.settings.allow_unsafe_interpreter_executions = True
    try:
        at_end("plain.prop.", ns)
        at_end("sneaky.prop.", ns)
        assert jedi.settings.allow_unsafe_interpreter_executions is False
    finally:
        jedi.settings.allow_unsafe_interpreter_executions = before
    assert effects_besides_dir() == []


def test_hardening_leaves_jedi_unsafe_mode_alone_for_other_users() -> None:
    EFFECTS.clear()
    completion.warm_up()  # jedi loaded and hardened
    before = jedi.settings.allow_unsafe_interpreter_executions
    jedi.settings.allow_unsafe_interpreter_executions = True
    try:
        # someone else's Interpreter that opted into unsafe executions still evaluates
        found = jedi.Interpreter("plain.bare_prop.", [{"plain": PropertyOnly()}]).complete()
    finally:
        jedi.settings.allow_unsafe_interpreter_executions = before
    assert "bit_length" in [c.name for c in found]
    assert "bare property" in EFFECTS
    # ... while ours never does
    EFFECTS.clear()
    assert "bit_length" not in names(complete("plain.bare_prop.", 16, {"plain": PropertyOnly()}))
    assert EFFECTS == []


# -------------------------------------------------------------------------- bad input

BAD_INPUTS = [
    ("def (:\n    my_v", None),
    ("x = = = my_v", None),
    ("my_v", 10_000),
    ("my_v", -5),
    ("", 0),
    ("", 7),
    ("", -1),
    ('x = "my_v', None),
    ('x = """\nmy_v', None),
    ("# my_v", None),
    ("\x00\x01\x02", 2),
    ("f'{my_v", None),
    ("(((((((((((", None),
    ("lambda: my_v", None),
    ("thing.", 3),
    ("\ufeffmy_v", None),
    ("a = 1\r", None),
]


@pytest.mark.parametrize(("code", "cursor"), BAD_INPUTS)
@pytest.mark.parametrize("completer", [complete, fallback_complete])
def test_bad_input_never_raises(
    ns: dict[str, Any],
    completer: Callable[..., tuple[int, list[protocol.Completion]]],
    code: str,
    cursor: int | None,
) -> None:
    pos = len(code) if cursor is None else cursor
    start, comps = completer(code, pos, ns)
    clamped = max(0, min(pos, len(code)))
    assert 0 <= start <= clamped
    assert isinstance(comps, list)
    assert all(isinstance(c, protocol.Completion) and isinstance(c.name, str) for c in comps)


def test_out_of_range_cursors_are_clamped(ns: dict[str, Any]) -> None:
    assert complete("my_v", 10_000, ns) == complete("my_v", 4, ns)
    assert names(complete("my_v", 10_000, ns)) == ["my_var"]
    start, _ = complete("my_v", -5, ns)
    assert start == 0


def test_syntax_errors_elsewhere_still_complete(ns: dict[str, Any]) -> None:
    code = "def (:\n    pass\nmy_v"
    start, comps = at_end(code, ns)
    assert start == code.index("my_v")
    assert names((start, comps)) == ["my_var"]


def test_wrong_argument_types_give_an_empty_answer(ns: dict[str, Any]) -> None:
    assert complete(None, 3, ns) == (3, [])  # type: ignore[arg-type]
    assert complete("my_v", "x", ns) == (0, [])  # type: ignore[arg-type]
    assert complete("my_v", 4, None) == (4, [])  # type: ignore[arg-type]
    assert fallback_complete(None, 3, ns) == (3, [])  # type: ignore[arg-type]
    weird = {1: "int key", ("t",): "tuple key", "my_var": 1}
    assert "my_var" in names(complete("my_v", 4, weird))  # type: ignore[arg-type]
    assert "my_var" in names(fallback_complete("my_v", 4, weird))  # type: ignore[arg-type]


CODE_ALPHABET = [*"ab_.()[] \n\r\t'\"#:=,1é🐍", "my_v", "thing.", "os.", "sneaky."]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    parts=st.lists(st.sampled_from(CODE_ALPHABET), max_size=12),
    cursor=st.integers(min_value=-3, max_value=60),
)
def test_any_input_gives_a_well_formed_answer(parts: list[str], cursor: int) -> None:
    code = "".join(parts)
    namespace = make_namespace()
    for completer in (complete, fallback_complete):
        start, comps = completer(code, cursor, namespace, limit=20)
        clamped = max(0, min(cursor, len(code)))
        assert 0 <= start <= clamped
        assert len(comps) <= 20
        assert all(isinstance(c.name, str) and c.name for c in comps)


# ------------------------------------------------------------------ answer / warm-up


def test_answer_builds_a_completion_result_that_survives_the_codec(ns: dict[str, Any]) -> None:
    cmd = protocol.Complete(request_id="r1", code="x = gre", cursor=7, cell_id="c1")
    result = answer(cmd, ns)
    assert isinstance(result, protocol.CompletionResult)
    assert result.request_id == "r1" and result.start == 4
    assert [c.name for c in result.completions] == ["greet"]
    decoded = protocol.decode_notification(protocol.encode(result))
    assert decoded == result
    clamped = answer(protocol.Complete(request_id="r2", code="my_v", cursor=99), ns)
    assert clamped.request_id == "r2" and clamped.start == 0
    assert [c.name for c in clamped.completions] == ["my_var"]
    failed = answer(protocol.Complete(request_id="r3", code="my_v", cursor=2), None)  # type: ignore[arg-type]
    assert failed == protocol.CompletionResult(request_id="r3", completions=[], start=2)


def test_warm_up_returns_true_and_later_calls_work() -> None:
    assert warm_up() is True
    assert warm_up() is True  # idempotent
    assert names(complete("warm_u", 6, {"warm_up": warm_up})) == ["warm_up"]


def test_typical_namespace_is_answered() -> None:
    """Every request shape of the benchmark answers (speed: `python -m benchmarks core`)."""
    namespace: dict[str, Any] = {f"var_{i}": i for i in range(100)}
    namespace.update({f"func_{i}": (lambda x, i=i: x + i) for i in range(100)})
    namespace.update({f"obj_{i}": collections.OrderedDict(a=i) for i in range(100)})
    namespace.update(os=os, json=json, collections=collections, my_var=3)
    warm_up()
    for code in ["my_v", "os.pa", "json.lo", "obj_1.", "var_", "func_3("]:
        _, comps = complete(code, len(code), namespace)
        assert comps, code


# ----------------------------------------------------------------- namespace snapshot


@needs_threads
@pytest.mark.parametrize("mapping", [dict, collections.OrderedDict, collections.UserDict])
def test_namespace_mutated_by_another_thread_while_completing(mapping: type) -> None:
    # UserDict copies key by key in Python, so a concurrent change can break a plain
    # dict(ns): the snapshot retries; a real dict is copied atomically.
    namespace = mapping((f"name_{i}", i) for i in range(1000))
    namespace["my_var"] = 1
    stop = threading.Event()

    def mutate() -> None:
        i = 0
        while not stop.is_set():
            namespace[f"tmp_{i % 50}"] = i
            namespace.pop(f"tmp_{(i + 25) % 50}", None)
            i += 1

    mutator = threading.Thread(target=mutate, daemon=True)
    mutator.start()
    found = 0
    try:
        for _ in range(10):
            start, comps = complete("my_v", 4, namespace)
            assert start == 0
            found += [c.name for c in comps] == ["my_var"]
            snap = completion._snapshot(namespace)
            assert type(snap) is dict and snap["my_var"] == 1
    finally:
        stop.set()
        mutator.join(5)
    assert found >= 5, found  # a copy failing on every retry gives an empty answer, no error


# ---------------------------------------------------------------------------- worker


class Collector:
    """An ``emit`` callback that records results (thread-safe) and lets tests wait for them."""

    def __init__(self) -> None:
        self.results: queue.Queue[object] = queue.Queue()
        self.seen: list[protocol.CompletionResult] = []

    def __call__(self, message: object) -> None:
        self.results.put(message)

    def wait_for(self, count: int, timeout: float = WAIT_S) -> list[protocol.CompletionResult]:
        deadline = time.monotonic() + timeout
        while len(self.seen) < count:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"only {len(self.seen)} of {count} results arrived"
            message = self.results.get(timeout=remaining)
            assert isinstance(message, protocol.CompletionResult)
            self.seen.append(message)
        return self.seen

    def by_id(self) -> dict[str, list[protocol.CompletionResult]]:
        grouped: dict[str, list[protocol.CompletionResult]] = collections.defaultdict(list)
        for r in self.seen:
            grouped[r.request_id].append(r)
        return grouped


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "amphi-completion"]


@pytest.fixture
def kernel_globals() -> dict[str, Any]:
    return make_namespace()


@needs_threads
def test_worker_answers_while_the_kernel_thread_is_busy(kernel_globals: dict[str, Any]) -> None:
    busy = threading.Lock()
    started = threading.Event()
    release = threading.Event()

    def running_cell() -> None:
        with busy:
            started.set()
            kernel_globals["during_run"] = 1
            release.wait(WAIT_S)

    kernel = threading.Thread(target=running_cell, name="kernel-main")
    kernel.start()
    emit = Collector()
    worker = CompletionWorker(emit, lambda: kernel_globals)
    try:
        assert started.wait(WAIT_S)
        worker.submit(protocol.Complete(request_id="q1", code="my_v", cursor=4))
        [result] = emit.wait_for(1)
        assert busy.locked() and kernel.is_alive()  # the "cell" is still running
        assert result.request_id == "q1" and result.start == 0
        assert [c.name for c in result.completions] == ["my_var"]
    finally:
        release.set()
        kernel.join(WAIT_S)
        worker.close()


@needs_threads
def test_waiting_requests_are_coalesced_to_the_newest(kernel_globals: dict[str, Any]) -> None:
    entered = threading.Event()
    release = threading.Event()
    calls = 0

    def get_namespace() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:  # hold the worker on the first request while the others queue up
            entered.set()
            release.wait(WAIT_S)
        return kernel_globals

    emit = Collector()
    worker = CompletionWorker(emit, get_namespace, warm=False)
    try:
        worker.submit(protocol.Complete(request_id="first", code="my_v", cursor=4))
        assert entered.wait(WAIT_S)
        ids = [f"r{i}" for i in range(10)]
        for i, request_id in enumerate(ids):
            code = "my_v" if i == 9 else "gre"
            worker.submit(protocol.Complete(request_id=request_id, code=code, cursor=len(code)))
        release.set()
        emit.wait_for(11)
        grouped = emit.by_id()
        assert sorted(grouped) == sorted(["first", *ids])
        assert all(len(v) == 1 for v in grouped.values())
        assert [c.name for c in grouped["first"][0].completions] == ["my_var"]
        assert [c.name for c in grouped["r9"][0].completions] == ["my_var"]
        for request_id in ids[:-1]:
            assert grouped[request_id][0].completions == []
        assert calls == 2  # superseded requests never reached the namespace
    finally:
        release.set()
        worker.close()
    assert emit.results.empty()


@needs_threads
def test_a_burst_of_requests_gets_one_answer_each(kernel_globals: dict[str, Any]) -> None:
    emit = Collector()
    worker = CompletionWorker(emit, lambda: kernel_globals)
    try:
        ids = [f"b{i}" for i in range(10)]
        for request_id in ids:
            worker.submit(protocol.Complete(request_id=request_id, code="thing.live_a", cursor=12))
        emit.wait_for(10)
        grouped = emit.by_id()
        assert sorted(grouped) == sorted(ids)
        assert all(len(v) == 1 for v in grouped.values())
        newest = grouped["b9"][0]
        assert [c.name for c in newest.completions] == ["live_attr"]
        assert newest.start == len("thing.")
    finally:
        worker.close()
    time.sleep(0.05)
    assert emit.results.empty()


@needs_threads
def test_close_joins_the_daemon_thread_and_is_idempotent(kernel_globals: dict[str, Any]) -> None:
    before = set(worker_threads())
    emit = Collector()
    worker = CompletionWorker(emit, lambda: kernel_globals)
    new = [t for t in worker_threads() if t not in before]
    assert new == [worker.thread]
    assert worker.thread.daemon and worker.thread.name == "amphi-completion"
    worker.submit(protocol.Complete(request_id="x", code="my_v", cursor=4))
    emit.wait_for(1)
    worker.close()
    assert not worker.thread.is_alive()
    assert worker.thread not in threading.enumerate()
    worker.close()  # idempotent
    # a request after close still gets its (empty) answer
    worker.submit(protocol.Complete(request_id="late", code="my_v", cursor=4))
    late = emit.wait_for(2)[1]
    assert late.request_id == "late" and late.completions == [] and late.start == 4


@needs_threads
def test_close_answers_requests_still_waiting(kernel_globals: dict[str, Any]) -> None:
    entered = threading.Event()
    release = threading.Event()

    def get_namespace() -> dict[str, Any]:
        entered.set()
        release.wait(WAIT_S)
        return kernel_globals

    emit = Collector()
    worker = CompletionWorker(emit, get_namespace, warm=False)
    worker.submit(protocol.Complete(request_id="running", code="my_v", cursor=4))
    assert entered.wait(WAIT_S)
    worker.submit(protocol.Complete(request_id="waiting1", code="my_v", cursor=4))
    worker.submit(protocol.Complete(request_id="waiting2", code="my_v", cursor=4))
    closer = threading.Thread(target=worker.close)
    closer.start()
    time.sleep(0.05)
    release.set()
    closer.join(WAIT_S)
    assert not closer.is_alive() and not worker.thread.is_alive()
    emit.wait_for(3)
    grouped = emit.by_id()
    assert sorted(grouped) == ["running", "waiting1", "waiting2"]
    assert [c.name for c in grouped["running"][0].completions] == ["my_var"]
    assert grouped["waiting1"][0].completions == grouped["waiting2"][0].completions == []


@needs_threads
def test_worker_survives_failing_emit_and_namespace(kernel_globals: dict[str, Any]) -> None:
    emit = Collector()
    failures = {"emit": 1, "namespace": 1}

    def flaky_emit(message: object) -> None:
        if failures["emit"]:
            failures["emit"] -= 1
            raise OSError("channel closed")
        emit(message)

    def flaky_namespace() -> dict[str, Any]:
        if failures["namespace"]:
            failures["namespace"] -= 1
            raise RuntimeError("kernel torn down")
        return kernel_globals

    worker = CompletionWorker(flaky_emit, flaky_namespace, warm=False)
    try:
        worker.submit(protocol.Complete(request_id="lost", code="my_v", cursor=4))
        deadline = time.monotonic() + WAIT_S
        while failures["emit"] and time.monotonic() < deadline:
            time.sleep(0.01)
        worker.submit(protocol.Complete(request_id="ok", code="my_v", cursor=4))
        [result] = emit.wait_for(1)
        assert result.request_id == "ok"
        assert [c.name for c in result.completions] == ["my_var"]
        assert worker.thread.is_alive()
    finally:
        worker.close()


@needs_threads
def test_worker_is_thread_safe_under_concurrent_submitters(kernel_globals: dict[str, Any]) -> None:
    emit = Collector()
    worker = CompletionWorker(emit, lambda: kernel_globals)
    ids = [f"t{n}-{i}" for n in range(4) for i in range(10)]

    def submitter(n: int) -> None:
        for i in range(10):
            worker.submit(protocol.Complete(request_id=f"t{n}-{i}", code="my_v", cursor=4))

    threads = [threading.Thread(target=submitter, args=(n,)) for n in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT_S)
        emit.wait_for(len(ids))
        grouped = emit.by_id()
        assert sorted(grouped) == sorted(ids)
        assert all(len(v) == 1 for v in grouped.values())
        assert any(v[0].completions for v in grouped.values())
    finally:
        worker.close()


# ------------------------------------------------------------------ fallback completer


def fb(code: str, ns: dict[str, Any], **kw: Any) -> tuple[int, list[protocol.Completion]]:
    return fallback_complete(code, len(code), ns, **kw)


def test_fallback_completes_globals_builtins_and_keywords(ns: dict[str, Any]) -> None:
    start, comps = fb("x = my_v", ns)
    assert start == 4 and [c.name for c in comps] == ["my_var"]
    assert comps[0].kind == "instance"
    assert by_name(fb("pri", ns), "print").kind == "function"
    assert by_name(fb("whi", ns), "while").kind == "keyword"
    assert by_name(fb("Thi", ns), "Thing").kind == "class"
    assert by_name(fb("o", ns), "os").kind == "module"


def test_fallback_completes_attributes_along_a_dotted_path(ns: dict[str, Any]) -> None:
    start, comps = fb("os.pa", ns)
    assert start == 3
    assert by_name((start, comps), "path").kind == "module"
    start, comps = fb("y = thing.inner.val", ns)
    assert start == len("y = thing.inner.")
    assert [c.name for c in comps] == ["value", "values_seen"]
    assert "live_attr" in names(fb("thing.", ns))
    assert "class_level" in names(fb("thing.cla", ns))
    assert "method" in names(fb("Thing.", ns))
    assert "dumps" in names(fb("json.", ns))


def test_fallback_signature_and_doc(ns: dict[str, Any]) -> None:
    comp = by_name(fb("gre", ns), "greet")
    # this module has `from __future__ import annotations`: annotations are strings
    assert comp.signature == "greet(name: 'str', punctuation: 'str' = '!') -> 'str'"
    assert comp.doc == "Say hello to someone."
    method = by_name(fb("thing.meth", ns), "method")
    assert method.kind == "function"
    assert method.signature == "method(a: 'int', b: 'int' = 2) -> 'int'"  # bound: no self
    unbound = by_name(fb("Thing.meth", ns), "method")
    assert unbound.signature.startswith("method(self, a: ")
    assert by_name(fb("Thi", ns), "Thing").doc == "A thing with live attributes."


def test_fallback_runs_no_user_code(ns: dict[str, Any]) -> None:
    listed = names(fb("sneaky.", ns))
    assert "live_attr" in listed and "prop" in listed and "method" in listed
    assert by_name(fb("sneaky.pr", ns), "prop").kind == "property"
    for code in [
        "sneaky.prop.",
        "sneaky.missing.",
        "sneaky.live_attr.",
        "plain.prop.",
        "lazy_module.",
        "lazy_module.missing.",
        "takes_sn",
        "Sneaky.",
    ]:
        fb(code, ns)
    assert EFFECTS == []  # not even __dir__
    assert fb("sneaky.prop.", ns)[1] == []  # a property's value is unknown without calling it
    shown = by_name(fb("takes_sn", ns), "takes_sneaky").signature
    assert shown.startswith("takes_sneaky(p: 'object' = <") and "Sneaky object at 0x" in shown
    assert EFFECTS == []
    assert "value" in names(fb("lazy_module.", ns))


def test_fallback_does_not_follow_calls_subscripts_or_literals(ns: dict[str, Any]) -> None:
    for code in ["greet().", "sneakies[0].", '"abc".', "(thing).", "1.", "thing.inner().v"]:
        start, comps = fb(code, ns)
        assert comps == [], code
        assert start == len(code)
    assert EFFECTS == []


def test_fallback_offers_nothing_inside_strings_and_comments(ns: dict[str, Any]) -> None:
    for code in ['x = "my_v', "x = 'thing.", '"""\nmy_v', "# my_v", "x = 1  # thing.", "f'{my_v"]:
        assert fb(code, ns)[1] == [], code
    # after a closed string or on the next line, completion works again
    assert names(fb('x = "a # b"; my_v', ns)) == ["my_var"]
    assert names(fb("# comment\nmy_v", ns)) == ["my_var"]
    assert names(fb("# comment\rmy_v", ns)) == ["my_var"]
    assert names(fb('x = "a\\"b"; my_v', ns)) == ["my_var"]


def test_fallback_orders_private_names_last_and_respects_limit(ns: dict[str, Any]) -> None:
    listed = names(fb("thing.", ns))
    first_private = next(i for i, n in enumerate(listed) if n.startswith("_"))
    assert first_private > 0
    assert all(n.startswith("_") for n in listed[first_private:])
    assert names(fb("thing._pr", ns)) == ["_private_attr"]
    assert "_hidden" in names(fb("_hi", ns))
    assert len(fb("", ns, limit=7)[1]) == 7
    assert fb("os.", ns, limit=0)[1] == []


def test_fallback_handles_non_ascii_and_line_endings(ns: dict[str, Any]) -> None:
    code = 's = "🐍 日本語"\r\nñame.live_a'
    start, comps = fb(code, ns)
    assert start == len(code) - len("live_a")
    assert [c.name for c in comps] == ["live_attr"]
    assert "ñame" in names(fb("ña", ns))


@needs_subprocess
def test_lifecycle_completion_imports_without_jedi_and_uses_the_fallback() -> None:
    script = (
        "import sys\n"
        "sys.modules['jedi'] = None  # makes `import jedi` fail as if it was not installed\n"
        "from lifecycle import completion\n"
        "assert completion.warm_up() is False\n"
        "start, comps = completion.complete('x = my_v', 9, {'my_var': 1})\n"
        "print(start, [c.name for c in comps])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "4 ['my_var']"


@needs_subprocess
def test_importing_the_module_does_not_import_jedi() -> None:
    script = "import sys\nimport lifecycle.completion\nprint('jedi' in sys.modules)\n"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.timeout(60)
def test_a_truncated_parso_cache_file_is_a_cache_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A killed process can leave a truncated pickle in jedi's cache directory: completions of
    the module it caches must still come from jedi (not an exception, not an empty list)."""
    import parso.cache

    cache_dir = tmp_path / "jedi-cache"
    src = tmp_path / "src"
    src.mkdir()
    (src / "amphi_cached_mod.py").write_text(
        "def alpha_beta(x: int) -> int:\n    '''Doubles x.'''\n    return 2 * x\n"
    )
    monkeypatch.setattr(jedi.settings, "cache_directory", str(cache_dir))
    monkeypatch.syspath_prepend(str(src))
    code = "import amphi_cached_mod\namphi_cached_mod.alpha_"

    def names() -> list[str]:
        return [c.name for c in complete(code, len(code), {})[1]]

    parso.cache.parser_cache.clear()
    assert names() == ["alpha_beta"]
    pickles = list(cache_dir.rglob("*.pkl"))
    assert pickles, "jedi wrote no parser cache file"
    for pickle_file in pickles:
        data = pickle_file.read_bytes()
        pickle_file.write_bytes(data[: len(data) // 2])
    parso.cache.parser_cache.clear()
    # The module is not in the namespace, so only jedi (reading the file) can answer this.
    assert names() == ["alpha_beta"]
