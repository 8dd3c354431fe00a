"""Points that follow the guest's address mapping: linear watchpoints and physical breakpoints.

Unicorn's memory hooks see physical addresses and its exits linear ones, so what a point means
to the engine depends on the mapping in force: paging (CR0.PG, CR3, CR4.PSE/PAE/LA57, EFER.LMA),
the A20 gate, and the page-table entries on the way.  `Remap` works out, for the mapping in force
now, the physical bytes each *linear* watchpoint covers (page by page), the page-table entries
its walk read, and the linear addresses that execute each *physical* breakpoint's byte with
paging off (the byte itself, and its A20 alias while A20 is masked); the other linear addresses
that run it (paging, aliases) are found block by block in a fast run (`pbcheck.py`) and by
translating the PC in an exact step.

The watchers ask `stale()` before every exact step and at the start of every fast chunk, and
re-arm only what differs (so a mapping change that leaves the watched bytes where they were costs
no hook change and no translated-code flush).  In a fast run two things tell that the mapping
may have changed:
- the *remap detector*, a block hook (native: `_native.c` with the paging fields as its ranges;
  else Python) that stops the engine at the first block start where those fields differ, before
  that block runs.  A MOV to CR0/CR3/CR4, a task switch and WRMSR-set LMA (through CR0) end their
  translation block, so nothing ran under the new mapping with the old hooks; an A20 change
  comes from an OUT in the middle of a block, so that block is stepped again exactly;
- a write hook on every page-table entry a watched page's walk read: such a write is localised
  like a watchpoint hit, and the watchers re-arm after the writing instruction.
"""
from __future__ import annotations

from typing import Any, Callable

from unicorn import UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE

from debugger.cpustate import CR0_PG, CR4_PAE, CR4_PSE, EFER_LMA
from debugger.engine.paging import walk
from debugger.engine.pbcheck import PbChecker
from debugger.engine.points import Breakpoint, Watchpoint
from debugger.machine import uc_layout as L
from debugger.machine.memory import MemoryError_, PageFault
from debugger.machine.results import RunResult, Stop

__all__ = ["Remap", "RemapDetector", "FollowMapping", "WIDEST", "PAGING_RANGES"]

WIDEST = 64           # bytes one memory access can span (XSAVE-sized areas aside)
_A20 = 1 << 20
_CR4_LA57 = 1 << 12
# The bytes of CPUX86State a mapping depends on, as (offset, length): CR0 bits 24-31 (PG), CR3,
# CR4 bits 0-7 (PSE, PAE), the A20 mask's bits 16-23, EFER bits 8-15 (LMA) -- so that the
# detector does not stop for CR0.PE/TS/WP, CR2 (every page fault), EFER.SCE and the like.
PAGING_RANGES = ((L.OFF_CR + 3, 1), (L.OFF_CR + 3 * 8, 8), (L.OFF_CR + 4 * 8, 1),
                 (L.OFF_A20 + 2, 1), (L.OFF_EFER + 1, 1))
_PAGE = 0x1000


def raw_key(eng: Any) -> tuple[int, ...]:
    """The paging fields as they are (what the detector compares)."""
    return (eng.u64(L.OFF_CR), eng.u64(L.OFF_CR + 24), eng.u64(L.OFF_CR + 32),
            eng.i32(L.OFF_A20), eng.u64(L.OFF_EFER))


def _detected(eng: Any) -> bytes:
    """The bytes the detector compares (the Python hook's copy of the native one's)."""
    return b"".join(eng.read(off, n) for off, n in PAGING_RANGES)


def mapping_key(raw: tuple[int, ...]) -> tuple[int, ...]:
    """The part of the paging fields that decides where a linear address goes."""
    cr0, cr3, cr4, a20, efer = raw
    pg = cr0 & CR0_PG
    return (pg, cr3 if pg else 0, cr4 & (CR4_PAE | CR4_PSE | _CR4_LA57) if pg else 0,
            efer & EFER_LMA if pg else 0, a20 & _A20)


class Layout:
    """What the armed points are under one mapping."""

    def __init__(self) -> None:
        self.pieces: list[tuple[Watchpoint, int, int]] = []   # (watch, first phys, last phys)
        self.entries: set[tuple[int, int]] = set()            # page-table entries (phys, width)
        self.exits: set[int] = set()                          # linear exits of physical bps

    def hooks(self) -> tuple[Any, ...]:
        return (tuple((id(w), lo, hi) for w, lo, hi in self.pieces), frozenset(self.entries))


class Remap:
    """The mapping-dependent part of the watchers' arming (see the module docstring)."""

    def __init__(self, machine: Any, watches: list[Watchpoint], bps: list[Breakpoint],
                 mem_cb: Callable[..., None], pte_cb: Callable[..., None]) -> None:
        self.m = machine
        self.watches = list(watches)
        self.linear = [w for w in watches if w.space != "physical"]
        self.pbs = [b for b in bps if b.physical]
        self._mem_cb = mem_cb
        self._pte_cb = pte_cb
        self._handles: list[Any] = []
        self._installed: tuple[Any, ...] | None = None
        self.key: tuple[int, ...] | None = None
        self.raw: tuple[int, ...] | None = None
        self.dirty = False            # a watched page-table entry was written
        self.layout = Layout()

    @property
    def follows(self) -> bool:
        """Anything here depends on the mapping (else no detector is needed)."""
        return bool(self.linear or self.pbs)

    # -- the mapping now -----------------------------------------------------------------------
    def stale(self) -> bool:
        raw = raw_key(self.m.eng)
        return self.dirty or raw != self.raw

    def compute(self) -> Layout:
        m = self.m
        raw = raw_key(m.eng)
        cr0, cr3, cr4, a20, efer = raw
        regs = (cr0, cr3, cr4, efer)
        a20_on = bool(a20 & _A20)
        out = Layout()
        paging = bool(cr0 & CR0_PG)
        for w in self.watches:
            if w.space == "physical":
                out.pieces.append((w, w.address, w.address + w.length - 1))
                continue
            lin, end = w.address, w.address + w.length
            while lin < end:
                n = min(end - lin, _PAGE - (lin & (_PAGE - 1)))
                wk = walk(m.mem.read_phys, regs, lin, a20=a20_on)
                out.entries.update((lv.address, lv.width) for lv in wk.levels)
                phys = wk.physical          # (None: not mapped, nothing to hook)
                if phys is not None:
                    out.pieces.append((w, phys, phys + n - 1))
                lin += n
        for b in self.pbs:            # (with paging off; the block checker finds the rest)
            p = b.linear
            if paging:
                continue
            if a20_on:
                out.exits.add(p)
            elif not p & _A20:
                out.exits.update((p, p | _A20))
        self.raw = raw
        self.key = mapping_key(raw)
        self.dirty = False
        return out

    def physical_pc(self, pc: int) -> int | None:
        try:
            return self.m.mem.translate(pc)
        except (PageFault, MemoryError_):
            return None

    # -- arming --------------------------------------------------------------------------------
    def arm(self) -> bool:
        """Install the hooks for the mapping now; True when the hooks changed (the caller
        flushes translated code)."""
        self.layout = lay = self.compute()
        want = lay.hooks()
        if want == self._installed:
            return False
        uc = self.m.uc
        old, self._handles = self._handles, []
        for w, lo, hi in lay.pieces:
            # Unicorn matches a hook's range against an access's first byte only: start the
            # range early enough for the widest access that can end inside the watch.
            first = max(0, lo - WIDEST + 1)
            if w.access in ("write", "access"):
                self._handles.append(uc.hook_add(UC_HOOK_MEM_WRITE, self._mem_cb, (w, lo),
                                                 first, hi))
            if w.access in ("read", "access"):
                self._handles.append(uc.hook_add(UC_HOOK_MEM_READ, self._mem_cb, (w, lo),
                                                 first, hi))
        for at, width in sorted(lay.entries):
            self._handles.append(uc.hook_add(UC_HOOK_MEM_WRITE, self._pte_cb, at,
                                             max(0, at - WIDEST + 1), at + width - 1))
        for h in old:
            uc.hook_del(h)
        changed = self._installed is not None or bool(self._handles)
        self._installed = want
        return changed

    @property
    def armed(self) -> bool:
        return bool(self._handles)

    def disarm(self) -> bool:
        for h in self._handles:
            self.m.uc.hook_del(h)
        had = bool(self._handles)
        self._handles = []
        self._installed = None
        return had


class RemapDetector:
    """The block hook that stops the engine where the paging fields changed (before the block
    that would run under the new mapping).  Native when `_native` is built, else Python."""

    def __init__(self, machine: Any, native: bool) -> None:
        self.m = machine
        self._native: Any = None
        self._hook: Any = None
        self._base: bytes | None = None
        self.prev = 0
        self.hit: tuple[int, int] | None = None
        self.active = False
        self._result = lambda: RunResult(Stop.EVENT, "remap", machine.icount,
                                         {"event": "remap"})
        if native:
            from debugger.engine.native import NativeDetector

            det = self._native = NativeDetector(machine)
            d = det.d
            d.nranges = len(PAGING_RANGES)
            for i, (off, n) in enumerate(PAGING_RANGES):
                d.off[i], d.len[i] = off, n
            d.eflags_mask = d.hflags_mask = 0
            det._slice_end = self._native_end                 # type: ignore[method-assign]
            machine.slice_end_checks[-1] = self._native_end
        else:
            from unicorn import UC_HOOK_BLOCK

            self._hook = machine.uc.hook_add(UC_HOOK_BLOCK, self._block_cb)
            machine.uc.ctl_flush_tb()

    def _native_end(self) -> Any:
        d = self._native.d
        if not (d.hit and d.armed):
            return None
        d.armed = 0
        self.hit = (d.hit_prev, d.hit_now)
        return self._result()

    def _block_cb(self, uc: Any, address: int, size: int, _ud: Any) -> None:
        if not self.active or self.hit is not None:
            return
        m = self.m
        now = m.running_icount()
        if _detected(m.eng) != self._base:
            self.hit = (self.prev, now)
            m.request_stop(Stop.EVENT, "remap", event="remap")
            return
        self.prev = now

    def sync(self, icount: int) -> None:
        """Compare with the fields as they are now, from icount on."""
        self.hit = None
        self.active = True
        self.prev = icount
        if self._native is not None:
            self._native.sync(icount)
        else:
            self._base = _detected(self.m.eng)

    def pause(self) -> None:
        """Exact stepping re-arms before every step itself."""
        self.active = False
        if self._native is not None:
            self._native.d.armed = 0

    def remove(self) -> None:
        self.pause()
        if self._native is not None:
            self._native.remove()
            if self._native_end in self.m.slice_end_checks:
                self.m.slice_end_checks.remove(self._native_end)
            self._native = None
        elif self._hook is not None:
            self.m.uc.hook_del(self._hook)
            self.m.uc.ctl_flush_tb()
            self._hook = None


class FollowMapping:
    """The watchers' part that follows the mapping (mixed into `Watchers`; it sees the rest of
    the watchers as `self`: m, s, bps, mems, exact, muted, step_once, _mem_cb, ...)."""

    m: Any
    s: Any
    bps: list[Breakpoint]
    mems: list[Watchpoint]
    exact: bool
    muted: bool
    _hit_icount: int

    def _arm_remap(self) -> None:
        self._remap = Remap(self.m, self.mems, self.bps, self._mem_cb,   # type: ignore
                            self._pte_cb)
        self._aliases: set[int] = set()   # linear exits found for physical breakpoints
        self._remap.arm()
        self._set_exits()
        self._remap_det: RemapDetector | None = None
        self._pbc: PbChecker | None = None

    def _remap_detector(self) -> None:
        """In a fast run: the detector and the A20 gate (changed by an OUT inside a block) for
        linear watchpoints; the block checker for physical breakpoints."""
        if self.exact:
            return
        if self._remap.linear:
            self._remap_det = RemapDetector(self.m, bool(self.s.native))
            self.m.bus.watchers.append(self._a20_io)
        if self._remap.pbs:
            self._pbc = PbChecker(self.m, {b.linear for b in self._remap.pbs},
                                  bool(self.s.native))
            self._pbc.learn(self._remap.layout.exits)

    def _disarm_remap(self) -> None:
        m = self.m
        if self._pbc is not None:
            self._pbc.remove()
            self._pbc = None
        if self._remap_det is not None:
            self._remap_det.remove()
            self._remap_det = None
        if self._a20_io in m.bus.watchers:
            m.bus.watchers.remove(self._a20_io)
        if self._remap.disarm():
            m.uc.ctl_flush_tb()

    def _set_exits(self) -> None:
        self.m.extra_exits = {b.linear for b in self.bps if not b.physical} | set(
            self.s._internal_exits) | self._remap.layout.exits | self._aliases

    def _refresh(self) -> None:
        """Re-arm what the mapping decides if it changed (before a step or a fast chunk).
        Nothing to do when no armed point depends on the mapping (its layout is the same under
        any mapping: physical watches only)."""
        if self._remap.follows and self._remap.stale():
            if self._remap.arm():
                self.m.uc.ctl_flush_tb()
            self._set_exits()
            if self._pbc is not None:
                self._pbc.learn(self._remap.layout.exits)

    def _before_step(self) -> None:
        self._refresh()
        if self._remap_det is not None:
            self._remap_det.pause()       # (exact steps re-arm before each one themselves)
        if self._pbc is not None:
            self._pbc.pause()             # (an exact step compares the PC's physical address)

    def _physical_pc(self, pc: int) -> int | None:
        return self._remap.physical_pc(pc)

    def _mapping_moved(self, why: str) -> None:
        """Inside an instruction that changes the mapping: in a fast run, stop; the run goes
        back and steps exactly from this instruction (re-arming after it)."""
        self._remap.dirty = True
        if not self.exact:
            m = self.m
            self._hit_icount = m.running_icount()
            m.request_stop(Stop.EVENT, why, event="watch")

    def _pte_cb(self, uc: Any, access: int, address: int, size: int, value: int,
                entry: int) -> None:
        if not self.muted and address + size > entry:
            self._mapping_moved("page-table write")

    def _a20_io(self, direction: str, port: int, size: int, value: int) -> None:
        raw = self._remap.raw
        if not self.muted and direction == "out" and raw is not None and \
                self.m.eng.i32(L.OFF_A20) != raw[3]:
            self.m.bus.stop_requested = True
            self._mapping_moved("a20")

    def _run_following(self, n: int) -> Any:
        """`m.run(n)` in a fast chunk, re-arming where the detector stopped it (the same
        checkpoint stays good for localising: exact steps re-arm for themselves)."""
        m, det, pbc = self.m, self._remap_det, self._pbc
        if det is None and pbc is None:
            return m.run(n)
        end = start = m.icount
        end += n
        while True:
            if det is not None:
                det.sync(m.icount)
            if pbc is not None:
                pbc.sync()
            r = m.run(end - m.icount)
            ev = r.details.get("event") if r.reason == Stop.EVENT else None
            if ev not in ("remap", "pb-alias") or m.icount >= end or (
                    self.watch_transitions                        # type: ignore[attr-defined]
                    and self._sigfn(m.eng) != self._sig):         # type: ignore[attr-defined]
                return r
            if ev == "pb-alias" and pbc is not None and pbc.hit is not None:
                if pbc.hit in self._aliases:
                    return r      # (more aliases than the native hook keeps: leave it here)
                self._aliases.add(pbc.hit)
                pbc.learn({pbc.hit})
                self._set_exits()
            self._refresh()
            if m._pc() in m.extra_exits and m.icount != start:
                return r          # (a breakpoint where it stopped: checked there; where the
                #                    chunk started, it is run, as m.run does with an exit there
                #                    -- not where an earlier stop of this loop left it)
