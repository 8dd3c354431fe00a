"""The instruction count while the guest runs: exact inside a Unicorn hook, and readable from
another thread (the TUI's progress line) during a long `emu_start`.

`Machine.icount` moves only when an `emu_start` returns (a slice can be 16 M instructions, a
second or more); Unicorn counts the instructions of the current slice in `emu_counter`.  Reading
`base + emu_counter` from another thread has one trap: between the run loop setting the new base
and Unicorn zeroing the counter, the old slice's count would be added twice.  So the slice
listener zeroes the counter itself before it publishes the base, and the reader never reports
less than `Machine.icount`.

    live = LiveCount(machine).attach()
    ... live.value() ...              # from any thread
    live.detach()
"""
from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

from debugger.machine import uc_layout as L

if TYPE_CHECKING:
    from debugger.machine.pc import Machine

__all__ = ["LiveCount"]


class LiveCount:
    def __init__(self, machine: "Machine") -> None:
        self.m = machine
        uch = machine.eng.uch
        self._counter = ctypes.c_uint64.from_address(uch + L._UC_EMU_COUNTER)
        self._limit = ctypes.c_uint64.from_address(uch + L._UC_EMU_COUNT)
        self._base: int | None = None

    def attach(self) -> "LiveCount":
        m = self.m
        if self._start not in m.slice_listeners:
            m.slice_listeners.append(self._start)
            m.slice_end_checks.insert(0, self._end)      # first: always called
        return self

    def detach(self) -> None:
        m = self.m
        if self._start in m.slice_listeners:
            m.slice_listeners.remove(self._start)
        if self._end in m.slice_end_checks:
            m.slice_end_checks.remove(self._end)
        self._base = None

    def _start(self, base: int) -> None:
        self._counter.value = 0            # before the base is published (see the doc)
        self._base = base

    def _end(self) -> None:
        self._base = None
        return None

    def in_emu(self) -> bool:
        """Inside an `emu_start` (a Unicorn hook), as opposed to the machine at rest."""
        return self._base is not None and self.m.icount == self._base

    def value(self) -> int:
        """The instructions executed so far: exact in a hook, a lower bound elsewhere."""
        ic = self.m.icount
        base = self._base
        if base is None:
            return ic
        # The counter also counts the instruction it stopped at when the limit ends a slice.
        count, limit = self._counter.value, self._limit.value
        return max(ic, base + (min(count, limit) if limit else count))
