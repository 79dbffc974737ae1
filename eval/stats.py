"""Bootstrap intervals over questions: is a difference between two configurations more than
the noise of a small question set?

Questions are resampled with replacement (seeded, so a report is reproducible); a paired
difference resamples the same questions for both configurations. A difference whose 95 %
interval contains zero is reported as within the noise.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from eval.metrics import percentile

LEVEL = 95.0


@dataclass(frozen=True)
class Interval:
    """An estimate and its bootstrap interval (``lo``..``hi``, :data:`LEVEL` %)."""

    value: float
    lo: float
    hi: float

    @property
    def noise(self) -> bool:
        """Whether the interval contains zero (for a difference: not told apart from noise)."""
        return self.lo <= 0.0 <= self.hi

    def as_list(self) -> list[float]:
        return [round(self.value, 4), round(self.lo, 4), round(self.hi, 4)]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def mean_interval(values: Sequence[float], resamples: int = 1000,
                  seed: int = 7) -> Interval | None:
    """The mean of ``values`` with its bootstrap interval; ``None`` for no values."""
    if not values:
        return None
    rng = random.Random(seed)
    n = len(values)
    means = [_mean([values[rng.randrange(n)] for _ in range(n)]) for _ in range(resamples)]
    tail = (100.0 - LEVEL) / 2
    return Interval(_mean(values), percentile(means, tail) or 0.0,
                    percentile(means, 100.0 - tail) or 0.0)


def paired_difference(a: Sequence[float], b: Sequence[float], resamples: int = 1000,
                      seed: int = 7) -> Interval | None:
    """Mean of ``b - a`` over paired questions, with its bootstrap interval; ``None`` when
    there is no pair. Raises ValueError when the lists differ in length."""
    if len(a) != len(b):
        raise ValueError(f"paired values differ in number: {len(a)} and {len(b)}")
    return mean_interval([y - x for x, y in zip(a, b, strict=True)], resamples, seed)


def paired_rate_difference(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]],
                           resamples: int = 2000, seed: int = 7) -> Interval | None:
    """The difference ``rate(b) - rate(a)`` of two rates over the same questions, each rate a
    ratio of sums of per-question ``(numerator, denominator)`` (so pooled rates such as
    citation precision are resampled as they are computed), with its paired bootstrap interval.
    ``None`` when either rate is undefined. Raises ValueError when the lists differ in length."""
    if len(a) != len(b):
        raise ValueError(f"paired values differ in number: {len(a)} and {len(b)}")

    def rate(values: Sequence[tuple[float, float]], idx: Sequence[int]) -> float | None:
        den = sum(values[i][1] for i in idx)
        return sum(values[i][0] for i in idx) / den if den else None

    n = len(a)
    every = range(n)
    ra, rb = rate(a, every), rate(b, every)
    if ra is None or rb is None:
        return None
    rng = random.Random(seed)
    diffs = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        x, y = rate(a, idx), rate(b, idx)
        if x is not None and y is not None:
            diffs.append(y - x)
    tail = (100.0 - LEVEL) / 2
    value = rb - ra
    return Interval(value, percentile(diffs, tail) or 0.0 if diffs else value,
                    percentile(diffs, 100.0 - tail) or 0.0 if diffs else value)


def ratio_interval(a: Sequence[float], b: Sequence[float], resamples: int = 1000,
                   seed: int = 7) -> Interval | None:
    """``median(b) / median(a)`` over paired questions (a latency ratio), with its bootstrap
    interval; ``None`` without pairs or with a zero median."""
    if len(a) != len(b):
        raise ValueError(f"paired values differ in number: {len(a)} and {len(b)}")
    n = len(a)
    if n == 0 or not percentile(a, 50):
        return None
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        den = percentile([a[i] for i in idx], 50) or 0.0
        if den > 0:
            ratios.append((percentile([b[i] for i in idx], 50) or 0.0) / den)
    value = (percentile(b, 50) or 0.0) / (percentile(a, 50) or 1.0)
    tail = (100.0 - LEVEL) / 2
    return Interval(value, percentile(ratios, tail) or value,
                    percentile(ratios, 100.0 - tail) or value)
