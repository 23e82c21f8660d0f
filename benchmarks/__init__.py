"""amphikernel benchmarks: ``python -m benchmarks [core|all]``.

Every figure is a median over repeated runs printed beside a floor (the same work done by
the bare mechanism underneath), so results can be read on a noisy machine.
"""
