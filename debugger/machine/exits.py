"""The machine's exit addresses: where Unicorn must stop before executing (breakpoints,
`until` targets, the read-ahead fault's victim, the shadow setters of `shadow.py`).  A part of
`Machine` (mixed into it in pc.py), in a file of its own; it sees the rest of the machine as
`self`.
"""
from __future__ import annotations

from debugger.machine.shadow import shadow_setters

__all__ = ["ExitRules"]


class ExitRules:
    """Exit installation of `debugger.machine.pc.Machine`."""

    def _sync_exits(self, without: "int | frozenset[int] | None" = None) -> None:
        key = (frozenset(self.extra_exits), without, self._fetch_exit)
        if key == self._exits_key:
            return
        wanted = set(self.extra_exits)
        if self._fetch_exit is not None:
            wanted.add(self._fetch_exit)
        exits = frozenset(self.extra_exits)
        if exits != self._shadow_for:               # (not again for each `without`)
            self._shadow_for = exits
            self._shadow_exits = shadow_setters(self.mem, exits)
        wanted |= self._shadow_exits
        if isinstance(without, frozenset):
            wanted -= without
        else:
            wanted.discard(without)
        old = set(self._exits_installed or ())
        self.uc.ctl_exits_enabled(True)
        self.uc.ctl_set_exits(sorted(wanted))
        if wanted ^ old:
            # Every block, not the changed addresses' only: dropping blocks by linear address
            # goes through the mapping in force, so a block translated under another mapping
            # (paging on or off, another CR3, A20) would keep running without its exit, and
            # with paging on an address whose page is not present would fault behind the
            # guest's back (see Memory.write_phys).
            self.uc.ctl_flush_tb()
        self._fetch_exit_was = self._fetch_exit
        self._exits_installed = sorted(wanted)
        self._exits_set = frozenset(wanted)
        self._exits_key = key
