"""The reference stepper: one instruction at a time, every armed point evaluated after each.

It shares nothing with the engine's ways of running (no `Watchers`, no `runner`, no native
detector, no fast slices, no localisation): it drives a bare `Machine` with `run(1)` (a
delivery or a BIOS stop is its own step), observes memory accesses with its own Unicorn hooks
and port accesses with its own bus watcher, and decides every stop from the definitions below.
It borrows only the expression evaluator (conditions, `$value`), the state differ that defines
a transition (`diff_states`), the VM-entry checker and the disassembler.

What stops, in the order they are considered after a step (the first point whose condition is
true and whose ignore count is used up stops; a point considered counts the hit or uses one of
its ignore count, a point not reached is left as it was):
1. the machine cannot go on (halted, triple fault, ...);
2. an event catchpoint (`int`, `exception`, `irq`, `hlt`, `bios`; vector, and AH as the guest
   passed it) for the delivery or call this step made;
3. a memory watchpoint the instruction accessed (each watchpoint once per instruction, in the
   order of first access), or the machine wrote for it (interrupt delivery, a BIOS service);
4. an I/O access: every I/O watchpoint matching port, direction and value, then every `catch io`;
5. a transition catchpoint (in point order; `vmx-invalid`/`vmx-valid`: each catchpoint follows
   each of its profiles' verdicts itself, at every step, from the state at the start of the
   command, and is considered once when one of them changes the way it watches);
6. a register watch whose value changed (every one is updated each step);
7. a breakpoint at the next instruction's linear (or physical) address -- not while the CPU
   waits in HLT there: it executes nothing until an interrupt wakes it, and that interrupt is
   delivered first (QEMU and Bochs check breakpoints when code runs, the same way).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

from unicorn import UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_MEM_WRITE

from debugger.checks import evaluate
from debugger.cpustate import Activity
from debugger.disasm import decode_one
from debugger.engine.transitions import diff_states
from debugger.machine.pc import Stop
from tests.invariant.spec import Cmd, Spec

__all__ = ["Reference", "RefStop"]

_FINAL = {Stop.HALTED: "halted", Stop.TRIPLE_FAULT: "triple-fault", Stop.RESET: "reset",
          Stop.UNMAPPED: "unmapped", Stop.UNSUPPORTED: "unsupported",
          Stop.INTERRUPT: "interrupt", Stop.BOOT_FAILED: "boot-failed"}
_EVENTS = ("int", "exception", "irq", "hlt", "bios")
_TRANS = ("vm86", "mode", "cpl", "vmx-invalid", "vmx-valid", "dtr", "sreg", "cr", "a20")
_GPRS0 = {n: 0 for n in ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9",
                         "r10", "r11", "r12", "r13", "r14", "r15")}


class TooLong(Exception):
    """The command did not stop within the reference's step cap (the example is not used)."""


@dataclass
class RefStop:
    kind: str
    icount: int
    cs: int
    eip: int
    instruction: str = ""
    point: int | None = None
    final: bool = False

    def key(self) -> tuple[Any, ...]:
        return (self.kind, self.icount, self.cs, self.eip, self.point,
                "" if self.final else self.instruction)


@dataclass
class _P:
    number: int
    spec: Spec
    ignore: int
    catch: str = ""
    args: tuple[Any, ...] = ()
    linear: int = 0
    last: Any = None
    verdicts: dict[str, bool] = field(default_factory=dict)


class Reference:
    def __init__(self, make: Callable[[], Any], specs: list[Spec], cap: int,
                 history: bool = False, session: Any = None) -> None:
        """`make()`: a fresh Session, positioned where the example starts, used only for its
        Machine and its expression evaluator.  `history`: keep every step's state and the
        stop a point would make there (for the reverse commands)."""
        self.make = make
        self.cap = cap
        self.steps = 0
        self._event: tuple[str, dict[str, Any]] | None = None
        self._io: list[tuple[str, int, int, int]] = []
        self._acc: list[tuple[str, int, int, bool]] = []
        self._wphys: dict[int, list[tuple[int, int]]] = {}
        self._vcache: dict[Any, bool] = {}
        self._dry = False
        session = self._attach(session if session is not None else make())
        self.history = history
        self.start = (self.m.icount, self.state())
        # per step: (icount after it, state after it, the stop a point would make there)
        self.hist: list[tuple[int, Any, RefStop | None]] = []
        self.points: list[_P] = []
        for i, sp in enumerate(specs, 1):
            p = _P(i, sp, sp.ignore)
            if sp.what == "catch":
                from debugger.engine.catchargs import normalise

                p.catch = sp.args[0]
                p.args = normalise(p.catch, sp.args[1:], "vmx")
            elif sp.what == "break":
                p.linear = session.resolve(sp.args[0], sp.args[1] == "physical")
            elif sp.what == "regwatch":
                p.last = self._eval(sp.args[0])
            self.points.append(p)

    def _attach(self, session: Any) -> Any:
        self.s = session
        self.m = m = session.machine
        m.event_filter = self._on_event
        m.bus.watchers.append(self._on_io)
        m.uc.hook_add(UC_HOOK_MEM_WRITE | UC_HOOK_MEM_READ, self._on_mem)
        m.uc.ctl_flush_tb()
        m.mem.write_hooks.append(self._on_host_write)
        return session

    def _goto(self, index: int) -> None:
        """Back to the position after step `index` of the history (-1: the start), by running
        the same steps again on a new machine."""
        self._attach(self.make())
        for _ in range(index + 1):
            self.m.run(1)
        self.m._bios_asked = None         # (what a restore does: see Machine.restore)
        self.s._mut += 1
        del self.hist[index + 1:]

    # -- observation ---------------------------------------------------------------------------
    def _on_event(self, kind: str, details: dict[str, Any]) -> bool:
        self._event = (kind, dict(details))
        return True

    def _on_io(self, direction: str, port: int, size: int, value: int) -> None:
        self._io.append((direction, port, size, value))

    def _on_mem(self, uc: Any, access: int, address: int, size: int, value: int,
                _ud: Any) -> None:
        self._acc.append(("write" if access == UC_MEM_WRITE else "read", address, size, False))

    def _on_host_write(self, phys: int, size: int) -> None:
        # the machine's own writes (interrupt delivery, BIOS services): physical addresses
        self._acc.append(("write", phys, size, True))

    def state(self) -> Any:
        return self.m.state()

    def _eval(self, text: str) -> Any:
        self.s._mut += 1                 # (the evaluator caches the state per step)
        return self.s.eval(text)

    def _verdict(self, st: Any, prof: str) -> bool:
        key = (prof, replace(st, **_GPRS0))
        v = self._vcache.get(key)
        if v is None:
            if len(self._vcache) > 4096:
                self._vcache.clear()
            v = self._vcache[key] = evaluate(st, prof).ok
        return v

    def _passes(self, p: _P) -> bool:
        if p.spec.condition:
            try:
                if not self._eval(p.spec.condition):
                    return False
            except Exception:
                return True
        if self._dry:
            return True
        if p.ignore > 0:
            p.ignore -= 1
            return False
        return True

    # -- one step ------------------------------------------------------------------------------
    def _stop(self, kind: str, *, insn: tuple[int, bytes, int] | None = None,
              point: int | None = None, final: bool = False) -> RefStop:
        st = self.state()
        text = ""
        if insn is not None:
            ins = decode_one(insn[1], insn[0], insn[2])
            text = ins.text if ins is not None else ""
        return RefStop(kind, self.m.icount, st.cs.selector, st.rip, text, point, final)

    def begin(self) -> None:
        """A command starts: transition baselines are the state now."""
        self.prev = self.state()
        for p in self.points:
            if p.catch in ("vmx-invalid", "vmx-valid"):
                p.verdicts = {prof: self._verdict(self.prev, prof) for prof in p.args}

    def step(self) -> RefStop | None:
        m = self.m
        self.steps += 1
        if self.steps > self.cap:
            raise TooLong
        st0 = self.prev
        pc, code = self._insn_at(st0)
        bits = st0.bits
        self._event, self._io, self._acc = None, [], []
        self._wphys = self._watched_phys()
        ic = m.icount
        r = m.run(1)
        m.bus.stop_requested = False
        self.s._mut += 1
        after = self.state()
        self.prev = after
        insn = (pc, code, bits) if m.icount > ic else None
        if r.reason in _FINAL:
            stop = self._stop(_FINAL[r.reason], final=True)
            if self.history:
                self.hist.append((m.icount, after, None))
            return stop
        if self.history:
            self._dry = True              # what would stop here, ignore counts aside
            try:
                self.hist.append((m.icount, after, self._check(st0, after, insn)))
            finally:
                self._dry = False
        return self._check(st0, after, insn)

    def _watched_phys(self) -> dict[int, list[tuple[int, int]]]:
        """Each linear watchpoint's bytes as physical spans under the mapping now (a page
        that does not translate has none)."""
        out: dict[int, list[tuple[int, int]]] = {}
        for p in self.points:
            if p.spec.what != "watch" or p.spec.args[3] == "physical":
                continue
            lin, end = p.spec.args[0], p.spec.args[0] + p.spec.args[1]
            spans = out[p.number] = []
            while lin < end:
                n = min(end - lin, 0x1000 - (lin & 0xFFF))
                try:
                    spans.append((self.m.mem.translate(lin), n))
                except Exception:
                    pass
                lin += n
        return out

    def _insn_at(self, st: Any) -> tuple[int, bytes]:
        """The instruction a step from `st` executes: at a BIOS entry stub (INT3 then IRET),
        the service runs in the INT3's place and the instruction is the IRET."""
        pc = st.pc
        try:
            code = self.m.mem.read_linear(pc, 16)
        except Exception:
            return pc, b""
        if code[:1] == b"\xcc" and self.m.bios.vector_at(pc) is not None:
            return pc + 1, code[1:]
        return pc, code

    def _check(self, st0: Any, after: Any, insn: Any) -> RefStop | None:
        return (self._check_event(insn, after) or self._check_mem(insn)
                or self._check_io(insn) or self._check_trans(st0, after, insn)
                or self._check_regs(insn) or self._check_break(after))

    def _check_event(self, insn: Any, st: Any) -> RefStop | None:
        if self._event is None:
            return None
        kind, det = self._event
        for p in self.points:
            if p.catch != kind:
                continue
            if kind in ("int", "exception", "irq", "bios") and p.args:
                if det.get("vector") != p.args[0]:
                    continue
                if len(p.args) > 1 and (st.rax >> 8) & 0xFF != p.args[1]:
                    continue
            if self._passes(p):
                return self._stop(kind, insn=insn, point=p.number)
        return None

    def _check_mem(self, insn: Any) -> RefStop | None:
        order: list[_P] = []
        for access, addr, size, _machine in self._acc:
            for p in self.points:
                if p.spec.what != "watch" or p in order:
                    continue
                waddr, length, want, space = p.spec.args
                if want != "access" and want != access:
                    continue
                # (hooks and the machine's own writes give physical addresses: a linear watch's
                # bytes are where the mapping in force during the instruction put them)
                spans = [(waddr, length)] if space == "physical" else self._wphys[p.number]
                if any(addr < at + n and at < addr + size for at, n in spans):
                    order.append(p)
        for p in order:
            if self._passes(p):
                return self._stop("watchpoint", insn=insn, point=p.number)
        return None

    def _check_io(self, insn: Any) -> RefStop | None:
        for direction, port, size, value in self._io:
            for p in self.points:
                if p.spec.what != "io":
                    continue
                first, last, want, vexpr = p.spec.args
                if not first <= port <= last or want not in ("both", direction):
                    continue
                if vexpr:
                    self.s.variables.update({"value": value, "port": port})
                    if not self._eval(vexpr):
                        continue
                if self._passes(p):
                    return self._stop("watchpoint", insn=insn, point=p.number)
            for p in self.points:
                if p.catch != "io":
                    continue
                if p.args and not p.args[0] <= port <= p.args[-1]:
                    continue
                if self._passes(p):
                    return self._stop("io", insn=insn, point=p.number)
        return None

    def _check_trans(self, before: Any, after: Any, insn: Any) -> RefStop | None:
        found = None
        flipped = set()            # every vmx catchpoint follows its verdicts at every step
        for p in self.points:
            if p.catch in ("vmx-invalid", "vmx-valid"):
                for prof in p.args:
                    now = self._verdict(after, prof)
                    if self._dry:
                        was = self._verdict(before, prof)
                    else:
                        was, p.verdicts[prof] = p.verdicts[prof], now
                    if (p.catch == "vmx-invalid" and was and not now) or (
                            p.catch == "vmx-valid" and not was and now):
                        flipped.add(p.number)
        for p in self.points:
            if p.catch not in _TRANS:
                continue
            if p.catch in ("vmx-invalid", "vmx-valid"):
                if p.number in flipped and self._passes(p):
                    return self._stop(p.catch, insn=insn, point=p.number)
                continue
            if found is None:
                found = diff_states(before, after)
            for t in found:
                if p.catch == "vm86":
                    want = p.args[0] if p.args else "both"
                    if t.kind not in ("vm86-enter", "vm86-leave") or not (
                            want == "both" or t.kind.endswith(want)):
                        continue
                elif p.catch != t.kind:
                    continue
                elif t.kind == "sreg" and p.args and t.details.get("register") not in p.args:
                    continue
                elif t.kind in ("cr", "dtr") and p.args and not (
                        set(t.details.get("registers", ())) & set(p.args)):
                    continue
                if self._passes(p):
                    return self._stop(t.kind, insn=insn, point=p.number)
                break
        return None

    def _check_regs(self, insn: Any) -> RefStop | None:
        changed = []
        for p in self.points:
            if p.spec.what != "regwatch" or self._dry:
                continue
            try:
                v = self._eval(p.spec.args[0])
            except Exception:
                continue
            if v != p.last:
                p.last = v
                changed.append(p)
        for p in changed:
            if self._passes(p):
                return self._stop("watchpoint", insn=insn, point=p.number)
        return None

    def _check_break(self, st: Any) -> RefStop | None:
        if st.activity is Activity.HLT:
            return None
        pc = st.pc
        phys = None
        for p in self.points:
            if p.spec.what != "break":
                continue
            if p.spec.args[1] == "physical":
                if phys is None:
                    try:
                        phys = self.m.mem.translate(pc)
                    except Exception:
                        phys = -1
                if phys != p.linear:
                    continue
            elif pc != p.linear:
                continue
            if self._passes(p):
                try:
                    code = self.m.mem.read_linear(pc, 16)
                except Exception:
                    code = b""
                return self._stop("breakpoint", insn=(pc, code, st.bits), point=p.number)
        return None

    # -- commands ------------------------------------------------------------------------------
    def run(self, cmd: Cmd) -> RefStop:
        self.begin()
        m = self.m
        if cmd.name in ("stepi", "continue"):
            start = m.icount
            while m.icount - start < cmd.arg:
                ev = self.step()
                if ev is not None:
                    return ev
            return self._stop("step" if cmd.name == "stepi" else "budget")
        if cmd.name in ("nexti", "until"):
            st0 = self.prev
            if cmd.name == "until":
                target = self.s.resolve(cmd.arg)
            else:
                pc, code = self._insn_at(st0)
                ins = decode_one(code, pc, st0.bits) if code else None
                over = ins is not None and (ins.mnemonic.startswith(
                    ("call", "int", "rep", "loop")) or ins.mnemonic in ("into", "int3", "int1"))
                if not over:
                    return self.run(Cmd("stepi", 1))
                target = st0.pc + ins.size
            while True:
                ev = self.step()
                if ev is not None:
                    return ev
                st = self.prev
                if st.pc == target and st.activity is not Activity.HLT:
                    if cmd.name == "nexti" and st.ss.base == st0.ss.base and (
                            st.rsp & (0xFFFFFFFF if st0.ss.db else 0xFFFF)) < (
                            st0.rsp & (0xFFFFFFFF if st0.ss.db else 0xFFFF)):
                        continue
                    return self._stop("step" if cmd.name == "nexti" else "until")
        if cmd.name == "finish":
            sp0 = self.prev.sp_linear
            while True:
                st = self.prev
                pc, code = self._insn_at(st)
                ins = decode_one(code, pc, st.bits) if code else None
                ic = self.m.icount
                ev = self.step()
                if ev is not None:
                    return ev
                # (a step that stopped on an event before anything ran -- a BIOS call seen
                # before its service -- did not execute the return)
                if ins is not None and self.m.icount > ic and \
                        ins.mnemonic.startswith(("ret", "iret")) and self.prev.sp_linear > sp0:
                    return self._stop("finish", insn=(pc, code, st.bits))
        if cmd.name.startswith("reverse"):
            return self._reverse(cmd)
        raise ValueError(cmd.name)

    def _state_at(self, icount: int) -> int:
        """The history index of the position at `icount` (-1: the start): after the last step
        that ends there (a fault or interrupt delivered before the next instruction included)."""
        for i in range(len(self.hist) - 1, -1, -1):
            if self.hist[i][0] == icount:
                return i
            if self.hist[i][0] < icount:
                break
        return -1

    def _at(self, index: int) -> Any:
        return self.hist[index][1] if index >= 0 else self.start[1]

    def _reverse(self, cmd: Cmd) -> RefStop:
        first, now = self.start[0], self.m.icount
        if cmd.name == "reverse-stepi":
            if now <= first:
                return self._stop("history")
            self._goto(self._state_at(max(first, now - cmd.arg)))
            return self._stop("step")
        if cmd.name == "reverse-continue":
            for i in range(len(self.hist) - 1, -1, -1):
                ic, _, fire = self.hist[i]
                if fire is not None and ic < now:
                    self._goto(i)
                    return fire
        elif cmd.name == "reverse-finish":
            sp0 = self.state().sp_linear
            for c in range(now - 1, first - 1, -1):
                i = self._state_at(c)
                if self._at(i).sp_linear > sp0:
                    self._goto(i)
                    return self._stop("finish")
        self._goto(-1)
        return self._stop("history")
