"""Conformance suite: real notebooks (``../shared/corpus`` or ``--corpus DIR``) run by each host
runner and compared cell by cell with their Jupyter references, plus reactive agreement.

* :mod:`tests.conformance.corpus`: corpus layout, output items, normalisation, comparison;
* :mod:`tests.conformance.runners`: one runner per host and interpreter (add hosts there);
* :mod:`tests.conformance.reactive`: the edits and the live-kernel session;
* ``conftest.py``: ``--corpus``, the concurrent batch of runs, the results table.
"""
