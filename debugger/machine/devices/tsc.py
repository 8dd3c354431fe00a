"""The deterministic time-stamp counter.

RDTSC returns virtual nanoseconds x 2: a nominal 2 GHz TSC, so with the default 10 ns per
instruction each instruction advances the TSC by 20.  Derived from the instruction count only,
so two runs read the same values; a guest calibrating its TSC against the PIT (both derived from
the same clock) measures exactly 2 GHz.
"""
from __future__ import annotations

from typing import Any

__all__ = ["tsc_value", "TSC_HZ"]

TSC_HZ = 2_000_000_000


def tsc_value(clock: Any) -> int:
    """The TSC at the clock's current instruction count (64-bit wrap)."""
    return (int(clock.ns()) * (TSC_HZ // 1_000_000_000)) & 0xFFFF_FFFF_FFFF_FFFF
