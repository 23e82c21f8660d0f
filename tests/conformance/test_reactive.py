"""Reactive agreement: for every corpus notebook, after a top-to-bottom run in a live kernel,
each edit (:func:`tests.conformance.reactive.choose_edits`) leaves every cell's latest
outputs equal to a fresh top-to-bottom run of the edited notebook."""

from __future__ import annotations

import pytest

from tests.conformance.conftest import ConformanceSession
from tests.conformance.reactive import NEUTRAL_LINE, _graph, apply_edits, choose_edits


@pytest.mark.timeout(900)  # the first case runs the session's batch of kernels
def test_reactive_agreement(conformance: ConformanceSession, reactive_case: str) -> None:
    reason = conformance.reactive_runner.unavailable()
    if reason:
        pytest.skip(reason)
    outcome = conformance.reactive_outcome(reactive_case)
    assert outcome.steps, f"{reactive_case}: no edit was made"
    problems = []
    for step in outcome.steps:
        assert step.edit.cell in step.reran, f"{reactive_case}: the edited cell did not re-run ({step.edit.description})"
        if not step.comparison.ok:
            problems.append(
                f"after edit {step.edit.kind} ({step.edit.description}); the kernel re-ran code cells {step.reran}\n"
                + step.comparison.report("fresh top-to-bottom run", "reactive kernel")
            )
    assert not problems, "\n\n".join(problems)


@pytest.mark.timeout(60)
def test_edits_are_deterministic_and_of_the_promised_kind(conformance: ConformanceSession) -> None:
    assert conformance.corpus is not None
    with_value = 0
    for nb in conformance.corpus.notebooks:
        sources = nb.sources()
        edits = choose_edits(sources)
        assert edits == choose_edits(sources), nb.name
        assert edits[0].kind == "neutral"
        graph, edited = _graph(sources), _graph(apply_edits(sources, edits[:1]))
        cid = f"c{edits[0].cell}"
        assert edited.cells[cid].analysis.defs == graph.cells[cid].analysis.defs, nb.name
        assert NEUTRAL_LINE.strip() in edits[0].source
        if len(edits) > 1:
            with_value += 1
            value = edits[1]
            assert value.kind == "value" and value.source != sources[value.cell]
            assert graph.children(f"c{value.cell}"), f"{nb.name}: the value edit feeds no cell"
            if value.cell == edits[0].cell:  # edits accumulate
                assert NEUTRAL_LINE.strip() in value.source
    assert with_value >= len(conformance.corpus.notebooks) // 2
