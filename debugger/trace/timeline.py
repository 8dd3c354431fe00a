"""The timeline: machine checkpoints with random access, independent of Unicorn's snapshot stack.

Unicorn's memory snapshots form a stack (restoring one discards every later one), which is fine
for the engine's short "go back and localise" but not for time travel, where the user jumps
back and forth.  So a timeline point keeps:

- the CPU as a CPU-only Unicorn context (every field of QEMU's CPUX86State, hidden caches,
  lazy flags and FPU included; taken with the context mode switched to CPU for the call),
- the devices, disk overlays, serial length, event count, icount, clock and CPU activity, the
  way `machine/snapshot.py` captures them,
- RAM as page deltas: the pages that differ from the previous point (found by `RamTracker`).

Pages are stored per page as a list of versions `(key, bytes)` sorted by the key of the point
that introduced them, so the contents of a page at any point is one bisection away; going from
one point to another rewrites only the pages that changed between the two (plus those the guest
dirtied since).  Points are keyed by `(icount, seq)`: a user checkpoint taken after a BIOS
service that counts no instructions gets its own key at the same icount.
"""
from __future__ import annotations

import bisect
import copy
import ctypes
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from unicorn import unicorn_const as uconst

from debugger.trace.ram import PAGE, ZERO_PAGE, RamTracker

if TYPE_CHECKING:
    from debugger.machine.pc import Machine

__all__ = ["Point", "Timeline", "Key", "DEFAULT_INTERVAL"]

Key = tuple[int, int]
# Instructions between points.  A point costs about a RAM scan (10-20 ms for 64 MiB) and the
# first reverse step from a position replays up to one interval: 4 M keeps recording within
# ~1.3x the time of a plain run at ~100 MIPS and that replay within ~50 ms.
DEFAULT_INTERVAL = 4_000_000


@dataclass
class Point:
    key: Key
    clock: int
    cpu: Any                        # CPU-only UcContext
    devices: dict[str, dict[str, Any]]
    disks: dict[int, dict[int, bytes]]
    serial_len: int
    events_total: int
    activity: Any
    state_hash: str
    pages: set[int] = field(default_factory=set)
    number: int | None = None       # user checkpoint number (never thinned out)
    nbytes: int = 0

    @property
    def icount(self) -> int:
        return self.key[0]


def cpu_save(machine: "Machine") -> Any:
    uc = machine.uc
    uc.ctl(uconst.UC_CTL_CONTEXT_MODE, uconst.UC_CTL_IO_WRITE,
           ctypes.c_int(uconst.UC_CTL_CONTEXT_CPU))
    try:
        return uc.context_save()
    finally:
        uc.ctl(uconst.UC_CTL_CONTEXT_MODE, uconst.UC_CTL_IO_WRITE,
               ctypes.c_int(machine.memsnap.context_mode))


def cpu_restore(machine: "Machine", ctx: Any) -> None:
    uc = machine.uc
    uc.ctl(uconst.UC_CTL_CONTEXT_MODE, uconst.UC_CTL_IO_WRITE,
           ctypes.c_int(uconst.UC_CTL_CONTEXT_CPU))
    try:
        uc.context_restore(ctx)
    finally:
        uc.ctl(uconst.UC_CTL_CONTEXT_MODE, uconst.UC_CTL_IO_WRITE,
               ctypes.c_int(machine.memsnap.context_mode))


def state_hash(machine: "Machine", ram_digest: bytes) -> str:
    """Architectural CPU state (hidden caches included), RAM digest, serial output, icount."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(machine.state()).encode())
    h.update(ram_digest)
    h.update(bytes(machine.serial_out))
    h.update(machine.icount.to_bytes(8, "little"))
    return h.hexdigest()


class Timeline:
    def __init__(self, machine: "Machine", *, interval: int = DEFAULT_INTERVAL,
                 budget: int = 512 << 20) -> None:
        self.m = machine
        self.interval = max(1000, interval)
        self.budget = budget
        self.ram = RamTracker(machine.uc, machine.config.ram_size)
        self.keys: list[Key] = []
        self.points: dict[Key, Point] = {}
        self.versions: dict[int, list[tuple[Key, bytes]]] = {}
        self.anchor: Key | None = None      # the shadow holds RAM as of this point
        self.bytes_used = 0
        self.numbers = 0
        self.thinned = 0
        self.listeners: list[Any] = []      # fn(point) for every new point (the recorder)
        self.restore_listeners: list[Any] = []     # fn() before the machine jumps to a point
        # The serial output along the recorded line (a point keeps only its length; a restore
        # forwards in time needs the bytes).
        self.serial = bytearray()

    # -- page versions -------------------------------------------------------------------------
    def page_at(self, page: int, key: Key) -> bytes:
        vers = self.versions.get(page)
        if not vers:
            return ZERO_PAGE
        i = bisect.bisect_right(vers, key, key=lambda v: v[0])
        return vers[i - 1][1] if i else ZERO_PAGE

    def _pages_between(self, lo: Key | None, hi: Key | None) -> set[int]:
        """Pages introduced by points with lo < key <= hi."""
        out: set[int] = set()
        a = 0 if lo is None else bisect.bisect_right(self.keys, lo)
        b = len(self.keys) if hi is None else bisect.bisect_right(self.keys, hi)
        for k in self.keys[a:b]:
            out |= self.points[k].pages
        return out

    # -- taking points -------------------------------------------------------------------------
    def key_now(self) -> Key:
        ic = self.m.icount
        i = bisect.bisect_right(self.keys, (ic, 1 << 62))
        seq = self.keys[i - 1][1] + 1 if i and self.keys[i - 1][0] == ic else 0
        return (ic, seq)

    def take(self, number: int | None = None) -> Point:
        """A point at the current position (after any point already at this icount)."""
        m = self.m
        self._note_serial()
        key = self.key_now()
        i = bisect.bisect_left(self.keys, key)
        prev = self.keys[i - 1] if i else None
        succ = self.keys[i] if i < len(self.keys) else None
        dirty = self.ram.scan()
        cands = set(dirty)
        if self.anchor != prev:
            lo, hi = sorted((self.anchor, prev), key=lambda k: (-1, -1) if k is None else k)
            cands |= self._pages_between(lo, hi)
        delta: dict[int, bytes] = {}
        for p in cands:
            cur = dirty[p] if p in dirty else self.ram.shadow_page(p)
            if cur != self.page_at(p, prev) if prev is not None else cur != ZERO_PAGE:
                delta[p] = cur
        if succ is not None:
            # The successor's delta was relative to `prev`: pages this point changes must
            # appear in it too, with the successor's own contents.
            for p in delta:
                vers = self.versions.get(p, [])
                if not any(k == succ for k, _ in vers):
                    old = self.page_at(p, prev) if prev is not None else ZERO_PAGE
                    self._add_version(p, succ, old)
                    self.points[succ].pages.add(p)
        for p, data in delta.items():
            self._add_version(p, key, data)
        for p, data in dirty.items():
            self.ram.set_shadow(p, data)
        self.anchor = key
        from debugger.machine import snapshot

        memo = snapshot._shared(m)
        devs = {d.name: copy.deepcopy(snapshot._state_of(d), memo) for d in m.devices.all()}
        pt = Point(key=key, clock=m.clock.icount, cpu=cpu_save(m), devices=devs,
                   disks={n: dict(d.overlay) for n, d in m.disks.items()},
                   serial_len=len(m.serial_out), events_total=m.events.total,
                   activity=m.cpu.activity, state_hash=state_hash(m, self.ram.digest()),
                   pages=set(delta), number=number)
        pt.nbytes = 8192 + PAGE * len(delta)
        self.bytes_used += pt.nbytes
        self.keys.insert(i, key)
        self.points[key] = pt
        for fn in list(self.listeners):
            fn(pt, delta)
        self._thin()
        return pt

    def _add_version(self, page: int, key: Key, data: bytes) -> None:
        vers = self.versions.setdefault(page, [])
        j = bisect.bisect_left(vers, key, key=lambda v: v[0])
        if j < len(vers) and vers[j][0] == key:
            vers[j] = (key, data)
        else:
            vers.insert(j, (key, data))

    # -- going to a point ----------------------------------------------------------------------
    def restore(self, key: Key) -> Point:
        m = self.m
        pt = self.points[key]
        for fn in list(self.restore_listeners):
            fn()
        dirty = self.ram.scan()
        lo, hi = sorted((self.anchor, key), key=lambda k: (-1, -1) if k is None else k)
        pages = set(dirty) | self._pages_between(lo, hi)
        for p in pages:
            data = self.page_at(p, key)
            m.memsnap.touch(p * PAGE, PAGE)
            self.ram.write_guest(p, data)
            self.ram.set_shadow(p, data)
        self.anchor = key
        cpu_restore(m, pt.cpu)
        from debugger.machine import snapshot

        memo = snapshot._shared(m)
        for dev in m.devices.all():
            saved = pt.devices.get(dev.name)
            if saved is not None:
                snapshot._set_state(dev, copy.deepcopy(saved, memo))
        for n, d in m.disks.items():
            d.overlay = dict(pt.disks.get(n, {}))
        self._note_serial()
        m.serial_out[:] = self.serial[:pt.serial_len]
        m.events.truncate(pt.events_total)
        m.icount = pt.icount
        m.clock.icount = pt.clock
        m.cpu.activity = pt.activity
        m.cpu.flush_tlb()
        m.uc.ctl_flush_tb()
        m.mutations += 1
        m._exits_installed = None
        m._exits_key = None
        # (a read-ahead fault met again from here is told apart again: faults.py)
        m._fetch_exit = m._lookahead_probe = None
        return pt

    def before(self, icount: int, *, inclusive: bool = False) -> Key | None:
        """The latest point strictly before `icount` (or at it when `inclusive`)."""
        i = bisect.bisect_left(self.keys, (icount + 1, 0) if inclusive else (icount, 0))
        return self.keys[i - 1] if i else None

    def last_icount(self) -> int:
        return self.keys[-1][0] if self.keys else -1

    def due(self) -> bool:
        return not self.keys or self.m.icount >= self.last_icount() + self.interval

    # -- forgetting ----------------------------------------------------------------------------
    def drop(self, key: Key) -> None:
        i = self.keys.index(key)
        succ = self.keys[i + 1] if i + 1 < len(self.keys) else None
        pt = self.points.pop(key)
        del self.keys[i]
        for p in pt.pages:
            vers = self.versions[p]
            j = next(n for n, (k, _) in enumerate(vers) if k == key)
            data = vers.pop(j)[1]
            if succ is not None and p not in self.points[succ].pages:
                self._add_version(p, succ, data)
                self.points[succ].pages.add(p)
                self.points[succ].nbytes += PAGE
            else:
                self.bytes_used -= PAGE
            if not vers:
                del self.versions[p]
        self.bytes_used -= 8192
        if self.anchor == key:
            # The shadow still holds RAM as of the dropped point; the successor's contents
            # differ only in pages it introduced (which the next scan rewrites anyway).
            self.anchor = self.keys[i - 1] if i else None
            for p in pt.pages:
                self.ram.set_shadow(p, self.page_at(p, self.anchor) if self.anchor else
                                    ZERO_PAGE)

    def _note_serial(self) -> None:
        out = self.m.serial_out
        if len(out) >= len(self.serial):
            self.serial[:] = out

    def forget_after(self, icount: int) -> None:
        """The future changed (the user edited the state): drop points after `icount`."""
        self.serial[:] = self.m.serial_out
        for key in [k for k in self.keys if k[0] > icount]:
            self.drop(key)

    def _thin(self) -> None:
        while self.bytes_used > self.budget:
            cands = [k for k in self.keys[1:-1] if self.points[k].number is None
                     and k != self.anchor]
            if not cands:
                return
            for k in cands[::2][: max(1, len(cands) // 4)]:
                self.drop(k)
                self.thinned += 1

    def user_points(self) -> list[Point]:
        return [self.points[k] for k in self.keys if self.points[k].number is not None]
