"""The activity log: what the guest did, each happening with its exact instruction count and
CS:EIP -- mode changes, vm86 entries and exits, CPL changes, VM-entry verdict changes under the
session's profile, interrupts, BIOS calls, port I/O and the machine's own events (disk, A20...).

    from debugger.engine.activity import attach
    log = attach(session)            # session.activity; the TUI's event timeline reads it
    session.cont()
    for a in log.entries: print(a.icount, a.kind, a.message)

Where each kind comes from:
- transitions (`mode`, `vm86-enter`, `vm86-leave`, `cpl`, `vmx-invalid`, `vmx-valid`): the
  engine's transition detection (`watchers`), which compares the state after each exactly
  executed instruction; a fast run localises each detected change by re-executing from a
  checkpoint.  That costs about a millisecond a change, so a fast run localises at most
  `budget` of them (None: all; 0: none, only stepping logs them); after that the detector is
  off for the rest of the run and one `gap` entry says which icounts were not looked at and what
  changed between their ends.  Stepping always logs every transition; `transitions = False`
  turns them off altogether.  `vmx-*` verdicts are evaluated when the watched state changes
  (the same rule as the catchpoints).
- `int`, `irq`, `exception`: `Machine.interrupt_listeners` (CS:IP at delivery) and the machine's
  event log (exceptions, with the faulting CS:EIP);
- `bios`: a BIOS "before" hook on each service vector (the caller's return address);
- `io`: the I/O bus (the IN/OUT instruction's CS:EIP; the BIOS's own port accesses show the ROM);
- other machine events (`disk`, `a20`, `rtc`, ...): the machine's event log.

Entries are kept sorted by icount, one per happening: the engine re-executes instructions when
it localises a stop or goes back in time, and what is seen again is not logged twice.  A user
edit under time travel drops the entries after it (that future is gone).  The log is bounded
per source, so a guest polling a port cannot push its mode changes out.
"""
from __future__ import annotations

import bisect
import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from debugger.cpustate import CpuState
from debugger.engine.livecount import LiveCount
from debugger.machine.events import OncePerIcount

if TYPE_CHECKING:
    from debugger.engine.session import Session
    from debugger.engine.transitions import Transition

__all__ = ["Activity", "ActivityLog", "attach", "TRANSITION_KINDS", "BIOS_NAMES"]

TRANSITION_KINDS = ("mode", "vm86-enter", "vm86-leave", "cpl", "vmx-invalid", "vmx-valid")
BIOS_NAMES = {0x10: "video", 0x11: "equipment", 0x12: "memory size", 0x13: "disk",
              0x14: "serial", 0x15: "system", 0x16: "keyboard", 0x17: "printer",
              0x18: "no boot device", 0x19: "bootstrap", 0x1A: "time"}
_IRQ_VECTORS = frozenset(range(0x08, 0x10)) | frozenset(range(0x70, 0x78))
# Machine events the interrupt listener already reports (with CS:IP).
_COVERED = ("irq", "int")


@dataclass(frozen=True)
class Activity:
    icount: int                  # instructions executed when it happened (a stop there shows it)
    kind: str
    message: str
    cs: int | None = None        # CS:EIP: where it happened (see the module doc per kind)
    eip: int | None = None
    source: str = ""             # "transition", "interrupt", "bios", "io", "machine", "gap"
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.icount, self.kind, self.cs, self.eip, self.message)


class ActivityLog:
    def __init__(self, session: "Session", *, budget: int | None = 500,
                 capacity: int = 5000) -> None:
        self.s = session
        self.m = session.machine
        self.budget = budget              # localisations per fast run (None: no limit)
        self.transitions = True           # False: no transitions at all (no detector)
        self.capacity = capacity
        self._src: dict[str, deque[Activity]] = {}
        self._keys: set[tuple[Any, ...]] = set()
        self._merged: list[Activity] | None = None
        self._once = {name: OncePerIcount() for name in ("interrupt", "bios", "io")}
        self._undo: list[Callable[[], None]] = []
        self._live = LiveCount(session.machine)
        self._delivery: tuple[int, str, int] = (-2, "", 0)    # the last interrupt delivered
        self._verdicts: deque[tuple[CpuState, str, Any]] = deque(maxlen=4)
        self.spent = 0                       # localisations in the current fast run
        self._gap: tuple[int, CpuState, str, str] | None = None
        self._tt_hooked: Any = None
        self.changes = 0                     # bumped on every change (views cache on it)

    # -- installing ----------------------------------------------------------------------------
    @property
    def listening(self) -> bool:
        return bool(self._undo)

    def install(self) -> None:
        """Listen to the machine (again); idempotent.  The machine's events from while the log
        was not listening are taken from its event log (without CS:EIP)."""
        from debugger.machine.bios import ServiceHook

        if self._undo:
            return
        m = self.m
        for ev in list(m.events):            # what happened before the log was attached
            self._add(Activity(ev.icount, ev.kind, ev.message, source="machine",
                               details=dict(ev.details)))
        m.interrupt_listeners.append(self._on_interrupt)
        m.bus.watchers.append(self._on_io)
        self._live.attach()
        unsub = m.events.subscribe(self._on_event)
        hooks = [ServiceHook("before", vec, None, self._on_bios, m.bios)
                 for vec in sorted(m.bios.services) if vec not in _IRQ_VECTORS]
        m.bios.hooks.extend(hooks)

        def undo() -> None:
            for lst, fn in ((m.interrupt_listeners, self._on_interrupt),
                            (m.bus.watchers, self._on_io)):
                if fn in lst:
                    lst.remove(fn)
            unsub()
            self._live.detach()
            for h in hooks:
                h.remove()
        self._undo.append(undo)

    def uninstall(self) -> None:
        """Stop listening (the entries stay; `install` listens again).  Its instruction
        counter keeps the machine's block-counted fast slices off while it listens."""
        for fn in self._undo:
            fn()
        self._undo.clear()

    def remove(self) -> None:
        """Stop logging for good; `session.activity` is cleared."""
        self.uninstall()
        if getattr(self.s, "activity", None) is self:
            self.s.activity = None         # type: ignore[attr-defined]

    # -- storing -------------------------------------------------------------------------------
    @property
    def entries(self) -> list[Activity]:
        """Every entry, oldest first (sorted by icount)."""
        if self._merged is None:
            self._merged = list(heapq.merge(*self._src.values(), key=lambda e: e.icount))
        return self._merged

    def _add(self, a: Activity) -> None:
        k = a.key
        if k in self._keys:
            return
        self._hook_time_travel()
        self._keys.add(k)
        q = self._src.setdefault(a.source, deque())
        if q and q[-1].icount > a.icount:          # e.g. a transition found in a gap later
            q.insert(bisect.bisect_right(q, a.icount, key=lambda e: e.icount), a)
        else:
            q.append(a)
        if len(q) > self.capacity:
            self._keys.discard(q.popleft().key)
        self._merged = None
        self.changes += 1

    def forget_after(self, icount: int) -> None:
        """The guest was changed by the user at `icount`: what was logged after it is gone."""
        for q in self._src.values():
            while q and q[-1].icount > icount:
                self._keys.discard(q.pop().key)
        for once in self._once.values():
            once.forget_after(icount)
        self._merged = None
        self.changes += 1

    def _hook_time_travel(self) -> None:
        tt = getattr(self.s, "timeline", None)
        if tt is not None and self._tt_hooked is not tt:
            self._tt_hooked = tt
            tt.edit_listeners.append(lambda edit: self.forget_after(int(edit["icount"])))

    def _here(self) -> tuple[int, int]:
        cpu = self.m.cpu
        return cpu.seg_raw("cs")[0], cpu.rip

    def _now(self) -> int:
        """The exact icount, also from inside a Unicorn hook."""
        return self._live.value()

    # -- machine listeners ---------------------------------------------------------------------
    def _on_interrupt(self, vector: int, kind: str, error_code: int | None, cs: int,
                      ip: int) -> None:
        icount = self.m.icount
        self._delivery = (icount, kind, vector)
        if kind not in _COVERED:
            return                          # exceptions come from the machine's event log
        handler = self.m._pc()
        if kind == "int" and self.m.bios.vector_at(handler) is not None:
            return                          # a BIOS call: the `bios` entry tells more
        if not self._once["interrupt"].first(icount, (vector, kind, cs, ip)):
            return
        det: dict[str, Any] = {"vector": vector}
        if kind == "int":
            ax = self.m.cpu.gpr(0) & 0xFFFF
            det["ax"] = ax
            msg = f"INT {vector:02X}h AH={ax >> 8:02X}h"
        else:
            msg = f"IRQ vector {vector:02X}h"
        det["handler"] = handler
        if self.m.bios.vector_at(handler) is not None:
            msg += " (BIOS handler)"
        self._add(Activity(icount, kind, msg, cs, ip, "interrupt", det))

    def _on_bios(self, call: Any) -> None:
        from debugger.machine.bios.services._frame import frame

        icount = self.m.icount
        try:
            ip, cs, _ = frame(call)
        except Exception:
            ip = cs = None             # type: ignore[assignment]
        vec, ax = call.vector, call.ax
        if not self._once["bios"].first(icount, (vec, ax, cs, ip)):
            return
        name = BIOS_NAMES.get(vec, "")
        msg = f"INT {vec:02X}h {name + ' ' if name else ''}AH={ax >> 8:02X}h" + (
            f", returns to {cs:04X}:{ip:04X}" if cs is not None else "")
        self._add(Activity(icount, "bios", msg, cs, ip, "bios",
                           {"vector": vec, "ax": ax, "bx": call.bx, "cx": call.cx,
                            "dx": call.dx}))

    def _on_io(self, direction: str, port: int, size: int, value: int) -> None:
        icount = self._now()
        cs, eip = self._here()
        if not self._once["io"].first(icount, (direction, port, cs, eip)):
            return
        arrow = "->" if direction == "out" else "<-"
        msg = f"{direction} port {port:#06x} {arrow} {value:#0{2 + 2 * size}x}"
        self._add(Activity(icount, "io", msg, cs, eip, "io",
                           {"direction": direction, "port": port, "size": size,
                            "value": value}))

    def _on_event(self, ev: Any) -> None:
        if ev.kind in _COVERED:
            return
        cs, eip = self._here()
        # The event log's clock is the icount at the start of the slice; inside a hook (a
        # device's event during a run) the exact count is the running one.
        icount = self._now() if self._live.in_emu() else ev.icount
        self._add(Activity(icount, ev.kind, ev.message, cs, eip, "machine",
                           dict(ev.details)))

    # -- transitions (called by the engine's watchers) -----------------------------------------
    def transitions_on(self) -> bool:
        return self.transitions

    def new_run(self) -> None:
        self.spent = 0

    def charge(self) -> None:
        """One localisation (or exactly stepped block) for the log in a fast run."""
        self.spent += 1

    def charge_left(self) -> bool:
        return self.budget is None or self.spent < self.budget

    @property
    def paused(self) -> bool:
        return self._gap is not None

    def _verdict(self, st: CpuState, profile: str) -> Any:
        """The checker's verdict under `profile`, None if it cannot tell (the last few states
        are remembered: the state before a change is the state after the previous one)."""
        for cached, prof, v in self._verdicts:
            if prof == profile and (cached is st or cached == st):
                return v
        try:
            v = self.s.check(profile, st)
        except Exception:
            v = None
        self._verdicts.append((st, profile, v))
        return v

    def transition(self, before: CpuState, after: CpuState, found: list["Transition"],
                   insn_pc: int | None, code: bytes, bits: int | None) -> None:
        """The watched state changed from `before` to `after` over one exactly executed
        instruction (at linear `insn_pc`; None for a delivery without one)."""
        icount = self.m.icount
        cs, eip = after.cs.selector, after.rip
        insn = ""
        at, kind, vector = self._delivery
        delivered = at == icount or (kind == "irq" and at == icount - 1)
        if delivered and kind == "irq":
            insn_pc = None          # delivered before the instruction at insn_pc ran
        if insn_pc is not None and code:
            from debugger.disasm import decode_one

            ins = decode_one(code, insn_pc, bits or before.bits)
            insn = ins.text if ins is not None else ""
        where: dict[str, Any] = {"instruction": insn, "instruction_address": insn_pc} \
            if insn_pc is not None else {}
        by = f" by {insn}" if insn else ""
        if delivered:
            from debugger.machine.delivery import VECTOR_NAMES

            how = VECTOR_NAMES.get(vector, f"vector {vector:02X}h") if kind == "exception" \
                else f"{kind.upper()} {vector:02X}h"
            by += f" ({how})" if insn else f" by the delivery of {how}"
            where["delivery"] = f"{kind} {vector:#04x}"
        for t in found:
            if t.kind in ("vm86-enter", "vm86-leave"):
                msg = f"{before.mode.value} -> {after.mode.value}{by}"
            elif t.kind == "mode":
                if before.vm != after.vm:
                    continue            # told by the vm86 entry
                msg = f"{before.mode.value} -> {after.mode.value}{by}"
            elif t.kind == "cpl":
                msg = f"CPL {before.cpl} -> {after.cpl}{by}"
            else:
                continue
            self._add(Activity(icount, t.kind, msg, cs, eip, "transition",
                               {"before": before.mode.value, "after": after.mode.value,
                                "changes": [str(c) for c in t.changes], **where}))
        prof = self.s.profile
        was = self._verdict(before, prof)
        now = self._verdict(after, prof) if was is not None else None
        if was is not None and now is not None and bool(was.ok) != bool(now.ok):
            rules = sorted({str(v.rule) for v in now.violations})
            if now.ok:
                kind, msg = "vmx-valid", f"enterable again under {prof}{by}"
            else:
                kind, msg = "vmx-invalid", f"not enterable under {prof}: {', '.join(rules)}{by}"
            self._add(Activity(icount, kind, msg, cs, eip, "transition",
                               {"profile": prof, "rules": rules, **where}))

    def pause(self, state: CpuState, why: str = "", what: str = "transitions not logged"
              ) -> None:
        """From here until `resume`, `what` ("transitions not logged", or "nothing logged"
        when the log stops listening) because of `why` (default: this fast run's budget is
        used up)."""
        if self._gap is None:
            self._gap = (self.m.icount, state, why or f"limit of {self.budget} per run", what)

    def resume(self, state: CpuState) -> None:
        """The run ended: the gap since `pause` becomes one entry."""
        if self._gap is None:
            return
        start, st0, why, what = self._gap
        self._gap = None
        end = self.m.icount
        if end <= start:
            return
        net = f"; mode {st0.mode.value} -> {state.mode.value}" if st0.mode != state.mode else ""
        self._add(Activity(start, "gap", f"{what} up to icount {end} ({why}{net})",
                           st0.cs.selector, st0.rip, "gap",
                           {"from": start, "to": end, "mode_before": st0.mode.value,
                            "mode_after": state.mode.value,
                            "hint": "tui timeline full logs them all"}))


def attach(session: "Session", *, budget: int | None = 500) -> ActivityLog:
    """Turn the activity log on for `session` (idempotent): `session.activity`."""
    log = getattr(session, "activity", None)
    if log is None:
        log = ActivityLog(session, budget=budget)
        log.install()
        session.activity = log           # type: ignore[attr-defined]
    return log
