"""Timing helpers: repeat, take medians and p99s, print figure beside floor and target."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Figure:
    """One measured figure (seconds unless ``unit`` says otherwise)."""

    name: str
    samples: list[float]
    floor: list[float] | None = None
    floor_name: str = ""
    target: str = ""
    unit: str = "ms"
    extra: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def p99(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]

    @classmethod
    def over_floor(cls, name: str, samples: list[float], floor: list[float], floor_name: str, margin: float) -> Figure:
        """A start-up figure whose target is "at most ``margin`` seconds above the floor's
        median"; samples and floor in seconds."""
        floor_median = statistics.median(floor)
        return cls(
            name,
            samples,
            floor=floor,
            floor_name=floor_name,
            target=f"<= floor + {margin:g} s ({floor_median + margin:.2f} s)",
            unit="s",
            extra=f"over floor: {statistics.median(samples) - floor_median:+.3f} s",
        )


def repeat(fn: Callable[[], object], runs: int) -> list[float]:
    """Wall-clock seconds of ``runs`` calls of ``fn``."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def fmt(seconds: float, unit: str) -> str:
    if unit == "ms":
        return f"{seconds * 1e3:9.3f} ms"
    if unit == "s":
        return f"{seconds:9.3f} s "
    return f"{seconds:9.3f} {unit}"


def print_figures(title: str, figures: list[Figure]) -> None:
    print(f"\n== {title} ==")
    print(f"{'figure':58s} {'median':>12s} {'p99':>12s} {'floor (median)':>14s}  ratio  target / notes")
    for f in figures:
        floor = statistics.median(f.floor) if f.floor else None
        ratio = f"{f.median / floor:5.1f}x" if floor else "   - "
        floor_text = fmt(floor, f.unit) if floor is not None else " " * 12
        print(
            f"{f.name:58s} {fmt(f.median, f.unit)} {fmt(f.p99(), f.unit)} {floor_text:>14s}  {ratio}  "
            f"{f.target}{'  ' + f.extra if f.extra else ''}{'  [floor: ' + f.floor_name + ']' if f.floor_name else ''}"
        )
