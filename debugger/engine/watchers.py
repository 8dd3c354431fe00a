"""Arming points on the machine, checking them after an instruction, and exact localisation.

`Watchers` is created for one run.  It installs what the armed points need (Unicorn exits for
breakpoints, memory hooks for watchpoints, an I/O-bus watcher, the machine's event filter, a
block-boundary detector for state transitions), checks everything after each exact step, and in
a fast run turns a late detection into an exact stop by re-executing from a checkpoint.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from unicorn import UC_HOOK_BLOCK, UC_MEM_WRITE

from debugger.cpustate import Activity, CpuState
from debugger.engine.blockscan import classify, relevant_categories
from debugger.engine.fastrun import _FINAL, FastRun
from debugger.engine.hostwrites import HostWrites
from debugger.engine.points import Breakpoint, Catchpoint, ExprWatch, IoWatch, Point, Watchpoint
from debugger.engine.remap import FollowMapping
from debugger.engine.stops import Change, StopEvent
from debugger.engine.transitions import (
    MODE_HFLAGS, RF_VM, TB_FLAG_KINDS, TRANSITION_KINDS, diff_states, mode_signature, signature,
)
from debugger.machine.halt import wake
from debugger.machine.memory import MemoryError_, PageFault
from debugger.machine.pc import Stop
from debugger.machine.results import RunResult

if TYPE_CHECKING:
    from debugger.engine.session import Session

__all__ = ["Watchers"]

EVENT_KINDS = ("int", "exception", "irq", "hlt", "bios")
# Names whose value lives in the transition signature (watchable at block granularity).
_SIG_NAMES = {"cr0", "cr3", "cr4", "efer", "gdtr", "idtr", "ldtr", "tr", "es", "cs", "ss", "ds",
              "fs", "gs", "vm", "iopl", "cpl", "a20", "mode"}


def _expr_is_fast(w: ExprWatch) -> bool:
    expr = w.expr
    names = getattr(expr, "registers", lambda: None)()
    if names is None or getattr(expr, "reads_memory", True):
        return False
    return all(str(n).split(".")[0].lower() in _SIG_NAMES or str(n).lower().startswith(
        ("eflags.vm", "rflags.vm", "eflags.iopl", "cr0.", "cr4.", "efer.")) for n in names)


class StopMaker(Protocol):
    """How a watcher turns what it saw into a StopEvent: `debugger.engine.runner`, which creates
    the watchers, hands itself in (watchers never import the runner)."""

    def machine_stop(self, s: "Session", r: Any, insn_pc: int | None) -> StopEvent: ...

    def make_stop(self, s: "Session", kind: str, message: str = "", **kw: Any) -> StopEvent: ...


class Watchers(FastRun, FollowMapping):
    def __init__(self, s: "Session", exact: bool, stops: StopMaker) -> None:
        self._runner = stops
        self.s = s
        self.m = s.machine
        self.exact = exact
        pts = s.points
        self.bps: list[Breakpoint] = pts.active(Breakpoint)
        self.mems: list[Watchpoint] = pts.active(Watchpoint)
        self.ios: list[IoWatch] = pts.active(IoWatch)
        self.exprs: list[ExprWatch] = pts.active(ExprWatch)
        catches: list[Catchpoint] = pts.active(Catchpoint)
        self.trans = [c for c in catches if c.catch in TRANSITION_KINDS]
        self.events = [c for c in catches if c.catch in EVENT_KINDS]
        self.io_catches = [c for c in catches if c.catch == "io"]
        # The activity log (the TUI's timeline) wants every transition, stopping or not.
        log = getattr(s, "activity", None)
        self.log = log if log is not None and log.transitions_on() else None
        if self.log is not None:
            self.log.new_run()
        self.watch_transitions = bool(self.trans or self.exprs or self.log)
        narrow = bool(self.trans) and not self.exprs and self.log is None and \
            {c.catch for c in self.trans} <= TB_FLAG_KINDS
        self._sigfn = mode_signature if narrow else signature
        self._reset_run()
        self.exact = exact
        self._categories = relevant_categories(
            {c.catch for c in self.trans} | ({"vmx-invalid"} if self.log else set()),
            any(_expr_is_fast(w) for w in self.exprs)) if not exact else frozenset()
        self._arm()

    # A continue after each stop used to build the watchers again from the points; a fast run
    # now takes the last one's (disarmed when it ended) when nothing it was built from changed:
    # the machine, the native switch, the table of points (its version counts additions,
    # deletions, conditions) and which points are enabled; never with the activity log.
    @staticmethod
    def for_run(s: "Session", stops: StopMaker) -> "Watchers":
        key = Watchers._run_key(s)
        w, s._parked_watchers = getattr(s, "_parked_watchers", None), None
        if w is not None and key is not None and w._key == key:
            w._reset_run()
            w._arm()
            return w
        w = Watchers(s, exact=False, stops=stops)
        w._key = key
        return w

    @staticmethod
    def _run_key(s: "Session") -> tuple[Any, ...] | None:
        log = getattr(s, "activity", None)
        if log is not None and log.transitions_on():
            return None
        m = s.machine
        return (id(m), id(m.uc), bool(s.native), s.points.version,
                tuple(p.enabled for p in s.points))

    def park(self) -> None:
        """Disarmed after its run: kept on the session for the next fast run (`for_run`)."""
        if getattr(self, "_key", None) is not None:
            self.s._parked_watchers = self

    def _reset_run(self) -> None:
        """What a run starts from (a new one's, and a parked one's when taken again)."""
        self.muted = False
        self.exact = False
        self._hooks: list[Any] = []
        self._mem_hits: list[tuple[Watchpoint, int, int, int, int]] = []
        self._io_hits: list[tuple[Point, str, int, int, int, int]] = []
        self._event: tuple[str, dict[str, Any]] | None = None
        self._det_hit: tuple[int, int] | None = None
        self._verdicts: dict[tuple[int, str], bool] = {}
        self._bits: int | None = None
        self._suspect: tuple[int, int] | None = None
        self._limit = 1 << 62
        self._cp_asked: tuple[int, int] | None = None

    @staticmethod
    def needs_exact(s: "Session") -> bool:
        """Points that can only be checked instruction by instruction."""
        return any(not _expr_is_fast(w) for w in s.points.active(ExprWatch))

    # -- arming --------------------------------------------------------------------------------------
    def _arm(self) -> None:
        m, s = self.m, self.s
        self._arm_remap()         # what the mapping decides (watched bytes, physical bps)
        if self.events or self.watch_transitions:
            m.event_filter = self._event_filter
        uc = m.uc
        self._host_write = HostWrites(self)
        self._native = None
        if not self.exact and self.watch_transitions:
            if s.native:
                self._native = det = self._take_native()
                if self._sigfn is mode_signature:
                    det.narrow(MODE_HFLAGS, RF_VM)
                else:
                    det.widen()
                det.d.suspects_on = 1 if self._categories else 0
                det.classify_for(self._categories)
                det.classify = (lambda a, n, b: self._suspect_block_bits(a, n, b)) \
                    if self._categories else None
            else:
                self._hooks.append(uc.hook_add(UC_HOOK_BLOCK, self._block_cb))
        elif not self.exact:
            self._drop_native()       # (a fast run without it: no idle hook left behind)
        self._remap_detector()
        if self._hooks or self._remap.armed:
            uc.ctl_flush_tb()
        if self._host_write.watched:
            m.mem.write_hooks.append(self._host_write)
        if self.ios or self.io_catches:
            m.bus.watchers.append(self._io_cb)
        self._sync_baseline()

    def disarm(self) -> None:
        m = self.m
        if self.log is not None and self.log.paused:
            self.log.resume(m.state())
        self._park_native()
        self._disarm_remap()
        for h in self._hooks:
            m.uc.hook_del(h)
        if self._hooks:
            m.uc.ctl_flush_tb()
        self._hooks = []
        if getattr(self, "_host_write", None) in m.mem.write_hooks:
            m.mem.write_hooks.remove(self._host_write)
        if self._io_cb in m.bus.watchers:
            m.bus.watchers.remove(self._io_cb)
        m.event_filter = None

    # The native detector outlives the run: parked on the session (hook installed but disarmed,
    # classification table kept) and taken again by the next run on the same engine, so that a
    # continue after each stop neither installs a hook nor flushes the translated blocks.
    def _take_native(self) -> Any:
        from debugger.engine.native import NativeDetector

        det = getattr(self.s, "_parked_native", None)
        self.s._parked_native = None
        if det is not None and det.m is self.m and det.uc is self.m.uc:
            det.resume()
            return det
        return NativeDetector(self.m)

    def _park_native(self) -> None:
        det, self._native = self._native, None
        if det is not None:
            det.park()
            self._drop_native()
            self.s._parked_native = det

    def _drop_native(self) -> None:
        det = getattr(self.s, "_parked_native", None)
        self.s._parked_native = None
        if det is not None and det.m is self.m and det.uc is self.m.uc:
            det.remove()

    def _sync_baseline(self) -> None:
        self._sig = self._sigfn(self.m.eng)
        self._state: CpuState | None = None
        if self.watch_transitions:
            self._state = self.m.state()
            for c in self.trans:
                if c.catch in ("vmx-invalid", "vmx-valid"):
                    for prof in c.args:
                        if (c.number, prof) not in self._verdicts:
                            self._verdicts[(c.number, prof)] = self.s.check(prof,
                                                                            self._state).ok
        self._det_prev = self.m.icount
        if getattr(self, "_native", None) is not None:
            self._native.sync(self.m.icount)

    # -- hooks (engine running) ----------------------------------------------------------------------
    def _event_filter(self, kind: str, details: dict[str, Any]) -> bool:
        if self.muted:
            return False
        self._event = (kind, details)
        return True

    def _mem_cb(self, uc: Any, access: int, address: int, size: int, value: int,
                wp: tuple[Watchpoint, int]) -> None:
        w, phys = wp
        if self.muted or address + size <= phys or any(h[0] is w for h in self._mem_hits):
            return                        # (not this watch's bytes; or hit already)
        m = self.m
        at = m.running_icount()
        self._mem_hits.append((w, access, address, size, value))
        if not self.exact:
            self._hit_icount = at
            m.request_stop(Stop.EVENT, "watchpoint", event="watch")

    def _io_cb(self, direction: str, port: int, size: int, value: int) -> None:
        if self.muted:
            return
        # every matching point (watches first): one whose condition is false leaves the next
        hits: list[Point] = [w for w in self.ios if w.first <= port <= w.last
                             and w.direction in ("both", direction)]
        hits += [c for c in self.io_catches if not c.args or c.args[0] <= port <= c.args[-1]]
        if not hits:
            return
        for hit in hits:
            self._io_hits.append((hit, direction, port, size, value, self.m.icount))
        if not self.exact:
            m = self.m
            self._hit_icount = m.running_icount()
            m.bus.stop_requested = True
            m.request_stop(Stop.EVENT, "io", event="watch")

    def _block_cb(self, uc: Any, address: int, size: int, _ud: Any) -> None:
        if self.muted or self.exact or self._det_hit is not None or not self.watch_transitions:
            return
        m = self.m
        now = m.running_icount()
        if self._sigfn(m.eng) != self._sig:
            self._det_hit = (self._det_prev, now)
            m.request_stop(Stop.EVENT, "transition", event="detector")
            return
        self._det_prev = now
        if self._categories and self._suspect_block(address, size):
            self._suspect = (address, size)
            m.request_stop(Stop.EVENT, "suspect", event="suspect")

    def _bits_now(self) -> int:
        hf = self.m.cpu.hflags
        return 64 if hf & (1 << 15) else 32 if hf & (1 << 4) else 16

    def _suspect_block(self, address: int, size: int) -> bool:
        return self._suspect_block_bits(address, size, self._bits_now())

    def _suspect_block_bits(self, address: int, size: int, bits: int) -> bool:
        key = (address, size, bits)
        cats = self.s._block_classes.get(key)
        if cats is None:
            cats = classify(self.m.mem.read_linear, address, size, key[2])
            self.s._block_classes[key] = cats
        return bool(cats & self._categories)

    def _step_block(self, address: int, size: int) -> StopEvent | None:
        """Step exactly through a block that may change watched state invisibly."""
        m = self.m
        self.exact = True
        try:
            for _ in range(size + 1):
                if m.icount >= self._limit:
                    break                 # the chunk's budget (stepi N) ends inside the block
                ev = self.step_once()
                if ev is not None:
                    if address <= m._pc() < address + size:
                        self.s._resume_block = (address, size, m.icount, m.mutations)
                    return ev
                if not address <= m._pc() < address + size:
                    break
        finally:
            self.exact = False
        self._sync_baseline()
        return None

    # -- exact step ----------------------------------------------------------------------------------
    def step_once(self) -> StopEvent | None:
        m = self.m
        if m.cpu.activity is Activity.HLT:
            # Waiting in HLT: the wait and the interrupt that ends it are a step of their own
            # (no instruction: what the delivery writes stops there), then the handler's first
            # instruction is the step's -- named as such, not as the one after the HLT.
            ev = self._step_wake()
            if ev is not None or m.cpu.activity is Activity.HLT:
                return ev
        pc = m._pc()
        try:
            code = m.mem.read_linear(pc, 16)
        except (PageFault, MemoryError_):
            code = b""
        if code[:1] == b"\xcc" and m.bios.vector_at(pc) is not None:
            pc, code = pc + 1, code[1:]     # a BIOS stub: the service, then the stub's IRET
        olds = self._begin_step()
        before = m.icount
        hf = m.cpu.hflags
        self._bits = 64 if hf & (1 << 15) else 32 if hf & (1 << 4) else 16
        # The machine's lean single step when nothing around the instruction needs its run
        # loop (what run(1) would do, without the loop's per-run set-up); else run(1).
        r = m.step_lean()
        if r is False:
            r = m.run(1)
        elif r is None:
            r = RunResult(Stop.BUDGET, "instruction budget of 1 used up", m.icount)
        m.bus.stop_requested = False
        return self._check(r, pc if m.icount > before else None, code, olds)

    def _begin_step(self) -> dict[int, bytes | None]:
        """Before an exact step: re-armed for it, what it may hit cleared; the watched bytes
        as they are (keyed by watchpoint)."""
        self._before_step()
        if self._native is not None:
            # (the exact step checks everything itself, as the Python block hook knows: a
            # detector armed from the last baseline would only stop the engine before the
            # instruction, for a step that runs nothing; re-armed with the next baseline)
            self._native.d.armed = 0
        self._mem_hits.clear()
        self._io_hits.clear()
        self._event = None
        return {id(w): self._read_watch(w) for w in self.mems}

    def _step_wake(self) -> StopEvent | None:
        m = self.m
        olds = self._begin_step()
        r = wake(m) or RunResult(Stop.BUDGET, "awake", m.icount)
        m.bus.stop_requested = False
        return self._check(r, None, b"", olds)

    def _read_watch(self, w: Watchpoint) -> bytes | None:
        try:
            if w.space == "physical":
                return self.m.mem.read_phys(w.address, w.length)
            return self.m.mem.read_linear(w.address, w.length)
        except (PageFault, MemoryError_):
            return None

    def _check(self, r: Any, insn_pc: int | None, code: bytes,
               olds: dict[int, bytes | None]) -> StopEvent | None:
        s, make = self.s, self._make
        if r.reason in _FINAL:
            return self._runner.machine_stop(s, r, insn_pc)
        if r.reason == Stop.EVENT and self._event is not None:
            ev = self._check_event(*self._event, insn_pc, code)
            if ev is not None:
                return ev
        for w, access, address, size, value in self._mem_hits:
            if not self._passes(w):
                continue
            new = self._read_watch(w)
            old = olds.get(id(w))
            det = {"access": "write" if access == UC_MEM_WRITE else "read", "address": address,
                   "size": size, "old": old.hex() if old else None,
                   "new": new.hex() if new else None}
            msg = (f"{det['access']} of {size} byte(s) at {address:#x}"
                   + (f": {old.hex()} -> {new.hex()}" if old is not None and new is not None
                      and old != new else ""))
            return self._stop_point(w, make(s, "watchpoint", msg, insn_pc=insn_pc,
                                            insn_bytes=code, details=det, point=w.number,
                                            changes=[Change(f"mem[{w.address:#x}]",
                                                            old.hex() if old else None,
                                                            new.hex() if new else None)]))
        for p, direction, port, size, value, _ic in self._io_hits:
            if isinstance(p, IoWatch) and p.value is not None:
                self.s.variables.update({"value": value, "port": port})
                if not self.s.eval(p.value):
                    continue
            if not self._passes(p):
                continue
            msg = f"{direction} port {port:#06x} size {size} value {value:#x}"
            kind = "watchpoint" if isinstance(p, IoWatch) else "io"
            return self._stop_point(p, make(s, kind, msg, insn_pc=insn_pc, insn_bytes=code,
                                            details={"direction": direction, "port": port,
                                                     "size": size, "value": value},
                                            point=p.number))
        if self.watch_transitions and self._sigfn(self.m.eng) != self._sig:
            ev = self._check_transitions(insn_pc, code)
            if ev is not None:
                return ev
        if self.exprs:
            ev = self._check_exprs(insn_pc, code)
            if ev is not None:
                return ev
        return self._check_breakpoint(r)

    def _event_catches(self, kind: str, details: dict[str, Any]) -> list[Catchpoint]:
        vec = details.get("vector")
        out = []
        for c in self.events:
            if c.catch != kind:
                continue
            if kind in ("int", "exception", "irq", "bios") and c.args:
                if c.args[0] != vec:
                    continue
                if len(c.args) > 1:
                    if (self.s.state().rax >> 8) & 0xFF != c.args[1]:
                        continue
            out.append(c)
        return out

    def _check_event(self, kind: str, details: dict[str, Any], insn_pc: int | None,
                     code: bytes) -> StopEvent | None:
        vec = details.get("vector")
        for c in self._event_catches(kind, details):
            if not self._passes(c):
                continue
            name = f"{vec:#04x}" if isinstance(vec, int) else ""
            return self._stop_point(c, self._make(
                self.s, kind, f"{kind} {name}".strip(), insn_pc=insn_pc, insn_bytes=code,
                details=dict(details), point=c.number))
        return None

    def _check_transitions(self, insn_pc: int | None, code: bytes) -> StopEvent | None:
        before = self._state or self.m.state()
        after = self.m.state()
        self._sig = self._sigfn(self.m.eng)
        self._state = after
        found = diff_states(before, after)
        if self.log is not None:
            self.log.transition(before, after, found, insn_pc, code, self._bits)
        hit: StopEvent | None = None
        # Every vmx catchpoint follows each of its profiles' verdicts itself, at every check
        # (one stopping does not leave the others' verdicts behind).
        flips: dict[int, list[tuple[str, Any]]] = {}
        for c in self.trans:
            if c.catch in ("vmx-invalid", "vmx-valid"):
                for prof in c.args:
                    v = self.s.check(prof, after)
                    was = self._verdicts.get((c.number, prof), True)
                    self._verdicts[(c.number, prof)] = v.ok
                    if (c.catch == "vmx-invalid" and was and not v.ok) or (
                            c.catch == "vmx-valid" and not was and v.ok):
                        flips.setdefault(c.number, []).append((prof, v))
        for c in self.trans:
            if hit is not None:
                break
            if c.catch in ("vmx-invalid", "vmx-valid"):
                if c.number in flips and self._passes(c):
                    prof, v = flips[c.number][0]
                    rules = [x.rule for x in v.violations]
                    msg = (f"not enterable under {prof}: {', '.join(rules)}"
                           if not v.ok else f"enterable again under {prof}")
                    hit = self._stop_point(c, self._make(
                        self.s, c.catch, msg, insn_pc=insn_pc, insn_bytes=code,
                        details={"profile": prof, "rules": rules,
                                 "violations": [{"rule": x.rule, "field": x.field,
                                                 "register": x.register}
                                                for x in v.violations]},
                        point=c.number, changes=[ch for t in found for ch in t.changes]))
                continue
            for t in found:
                if not _matches(c, t.kind, t.details):
                    continue
                if not self._passes(c):
                    break                 # (one hit per catchpoint per instruction)
                hit = self._stop_point(c, self._make(
                    self.s, t.kind, "; ".join(str(ch) for ch in t.changes), insn_pc=insn_pc,
                    insn_bytes=code, changes=t.changes, details=dict(t.details),
                    point=c.number))
                break
        return hit

    def _check_exprs(self, insn_pc: int | None, code: bytes) -> StopEvent | None:
        changed = []
        for w in self.exprs:          # every watch takes its new value, stopping or not
            try:
                v = self.s.eval(w.expr)
            except Exception:
                continue
            if v != w.last_value:
                changed.append((w, w.last_value, v))
                w.last_value = v
        for w, old, v in changed:
            if self._passes(w):
                return self._stop_point(w, self._make(
                    self.s, "watchpoint", f"{w.text}: {old:#x} -> {v:#x}" if old is not None
                    else f"{w.text} = {v:#x}", insn_pc=insn_pc, insn_bytes=code,
                    changes=[Change(w.text, old, v)], point=w.number))
        return None

    def _check_breakpoint(self, r: Any) -> StopEvent | None:
        pc = self.m._pc()
        phys = self._physical_pc(pc) if self._remap.pbs else None
        for b in self.bps:
            if b.linear != (phys if b.physical else pc):
                continue
            if not self._passes(b):
                continue
            # (the instruction at CS:IP, decoded with the code size in force now, not that of
            # the instruction just executed: a far jump may have changed it)
            return self._stop_point(b, self._make(
                self.s, "breakpoint", b.describe(), insn_pc=pc, point=b.number, bits=None))
        if pc in self.s._internal_exits:
            return self._make(self.s, "breakpoint", "", insn_pc=pc, bits=None,
                              details={"internal": True})
        return None

    def _make(self, s: "Session", kind: str, message: str = "", **kw: Any) -> StopEvent:
        if kw.get("insn_pc") is not None and self._bits is not None:
            kw.setdefault("bits", self._bits)
        return self._runner.make_stop(s, kind, message, **kw)

    def _passes(self, p: Point) -> bool:
        """Condition true and ignore count used up.  A crossing with its condition true counts
        as a hit even when the ignore count swallows it (gdb: "Increase the hit count even
        though we don't stop")."""
        if p.condition is not None:
            try:
                if not self.s.eval(p.condition):
                    return False
            except Exception:
                return True      # an unreadable condition stops (gdb does the same)
        p.hits += 1
        if p.ignore > 0:
            p.ignore -= 1
            return False
        return True

    def _stop_point(self, p: Point, ev: StopEvent) -> StopEvent:
        if p.temporary:
            try:
                self.s.points.delete(p.number)
            except KeyError:
                pass
        return ev



def _matches(c: Catchpoint, kind: str, details: dict[str, Any]) -> bool:
    if c.catch == "vm86":
        want = c.args[0] if c.args else "both"
        return kind in ("vm86-enter", "vm86-leave") and (want == "both" or kind.endswith(want))
    if c.catch != kind:
        return False
    if kind == "sreg" and c.args:
        return details.get("register") in c.args
    if kind in ("cr", "dtr") and c.args:
        return bool(set(details.get("registers", ())) & set(c.args))
    return True
