"""`Session`: the one programmatic core of the debugger.

The REPL, scripts, the TUI, tests and traces all drive a `Session`: open an image, set points,
run, and get a `StopEvent` back from every run.  A Session never prints and never touches a UI.

    from debugger import Session
    s = Session("images/vm86.img")
    s.catch("vm86", "enter")
    ev = s.cont()
    print(ev.summary(), s.state().cs)
"""
from __future__ import annotations

import struct
import threading
from dataclasses import fields
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from unicorn import UcError

from debugger.cpustate import CpuState, Mode
from debugger.engine import runner
from debugger.disasm import Insn, disassemble
from debugger.engine.points import (
    CATCH_KINDS, Breakpoint, Catchpoint, ExprWatch, IoWatch, Point, PointTable, Watchpoint,
)
from debugger.engine.stops import StopEvent
from debugger.engine.backtrace import DeliveryLog
from debugger.engine.symbols import SymbolTable
from debugger.errors import message_of
from debugger.machine.disk import Disk, DiskError, open_disk
from debugger.machine.memory import MemoryError_, PageFault
from debugger.machine.cpu import decode_state
from debugger.machine.pc import Machine, MachineConfig, Stop
from debugger.machine.rewind import capture as capture_handoff

if TYPE_CHECKING:
    from debugger.checks import Verdict

_NO_GPRS = {n: 0 for n in ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10",
                            "r11", "r12", "r13", "r14", "r15")}
# The checker's cache key: every field but the GPRs, in order (equal exactly when the records
# with their GPRs cleared are equal; a tuple is built in a few microseconds, a record is not).
_KEY_FIELDS = tuple(f.name for f in fields(CpuState) if f.name not in _NO_GPRS)
_key_of = attrgetter(*_KEY_FIELDS)

__all__ = ["Session", "SessionError"]


class SessionError(Exception):
    """A request the session cannot carry out (bad address, bad expression, ...): one line."""


# What the machine below may raise for a request out of its range; Session methods turn them
# into SessionError (one line) instead of letting them through.
_ENGINE_ERRORS = (UcError, MemoryError_, PageFault, struct.error, OverflowError,
                  runner.EngineStuck)


def _address(addr: int) -> int:
    """An address given as a number: within the 64-bit address space, or a SessionError."""
    if not 0 <= addr <= 0xFFFF_FFFF_FFFF_FFFF:
        raise SessionError(f"address {addr:#x} is out of range (0..0xffffffffffffffff)")
    return addr


def _why(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, UcError):
        return f"the CPU engine refused it ({text})"
    if isinstance(exc, (struct.error, OverflowError)):
        return f"a value is out of range ({text})"
    return text


class Session:
    def __init__(self, image: str | Path | None = None, *, disks: list[Disk] | None = None,
                 config: MachineConfig | None = None, profile: str = "vmx",
                 native: bool | None = None) -> None:
        if disks is None:
            from debugger.images import demo_image

            path = Path(image) if image is not None else demo_image()
            try:
                disks = [open_disk(path, boot=True)]
            except DiskError as exc:
                raise SessionError(str(exc)) from None
        self.disks = disks
        self.image_path = disks[0].path if disks else None
        self.machine = Machine(disks, config)
        self.handoff = capture_handoff(self.machine)    # for restart (gdb's `run` again)
        self.points = PointTable()
        self.profile = profile
        self.stops: list[StopEvent] = []
        self.variables: dict[str, int] = {}
        self.symbols = SymbolTable()          # names for addresses (symbol-file, ldsym)
        self.deliveries = DeliveryLog(self.machine)   # interrupt frames, for backtraces
        self.native = runner.native_available() if native is None else native
        self._lock = threading.Lock()
        self._prev_state: Any = None        # CpuState, or a raw copy (see previous_state)
        self.last_stop: StopEvent | None = None
        self.interrupt_requested = False      # Ctrl-C during the current run (see interrupt)
        self.on_stop: list[Callable[[StopEvent], None]] = []
        self._internal_exits: set[int] = set()
        self._block_classes: dict[tuple[int, int, int], frozenset[str]] = {}
        self._block_prefix: dict[tuple[Any, ...], int] = {}     # (watchers._run_prefix)
        self._last_changer: dict[tuple[Any, ...], Any] = {}    # (fastrun._last_instruction)
        self._mut = 0
        self._verdicts: dict[tuple[str, CpuState], Any] = {}
        # (state, its key without the GPRs, verdict per profile): the last state checked, as
        # catchpoints ask for each of their profiles in turn
        self._check_memo: tuple[CpuState, CpuState, dict[str, Any]] | None = None
        self._parked_native: Any = None        # (debugger.engine.watchers: between runs)
        self._resume_block: tuple[int, int, int, int] | None = None    # (the same)
        self._state_cache: CpuState | None = None
        self._state_key: tuple[int, int, int] | None = None

    # -- state ---------------------------------------------------------------------------------------
    @property
    def icount(self) -> int:
        return self.machine.icount

    def state(self) -> CpuState:
        m = self.machine
        key = (m.icount, m.mutations, self._mut)
        if self._state_key != key or self._state_cache is None:
            self._state_cache = m.state()
            self._state_key = key
        return self._state_cache

    @property
    def previous_state(self) -> CpuState | None:
        """The state at the previous stop (for 'changed since last stop' highlighting)."""
        if self._prev_state is not None and not isinstance(self._prev_state, CpuState):
            self._prev_state = decode_state(self._prev_state)     # a raw copy, decoded once
        return self._prev_state

    def set_state(self, st: CpuState) -> None:
        self._edited("state", state=st)
        try:
            self.machine.set_state(st)
        except _ENGINE_ERRORS as exc:
            raise SessionError(f"cannot load that state: {_why(exc)}") from None

    def _edited(self, kind: str, **details: Any) -> None:
        """A user edit of the guest state: time travel drops its future and logs it."""
        tt = getattr(self, "timeline", None)
        if tt is not None:
            tt.edited(kind, **details)

    def set_register(self, name: str, value: int) -> str | None:
        """Set a register or field.  Returns None, or one line when the CPU holds another value
        than the one asked for (a combination its state cannot represent): what it holds now."""
        from debugger.engine import regwrite
        from debugger.engine.expr import ExprError, StateContext

        try:
            st = regwrite.apply(self.state(), name, value)
        except KeyError as exc:
            raise SessionError(message_of(exc)) from None
        except ValueError as exc:
            raise SessionError(str(exc)) from None
        self._edited("state", state=st)
        try:
            self.machine.set_state(st)
        except _ENGINE_ERRORS as exc:
            raise SessionError(f"cannot set {name} to {value:#x}: {_why(exc)}") from None
        try:
            expr = self.parse(name)
            want, got = expr.eval(StateContext(st)), expr.eval(self.context())
        except (SessionError, ExprError):
            return None                      # (a name the expression language does not read)
        if want == got:
            return None
        return (f"{name} is {got:#x}: the CPU cannot hold {want:#x} "
                "(it keeps what its state can represent)")

    # -- expressions -----------------------------------------------------------------------------------
    def context(self) -> Any:
        from debugger.engine.evalctx import SessionContext

        return SessionContext(self)

    def parse(self, text: str) -> Any:
        from debugger.engine.expr import ExprError, parse

        try:
            return parse(text, self.symbols.lookup)
        except ExprError as exc:
            raise SessionError(str(exc)) from None

    def eval(self, expr: str | Any) -> int:
        from debugger.engine.expr import ExprError

        e = self.parse(expr) if isinstance(expr, str) else expr
        try:
            return e.eval(self.context())
        except ExprError as exc:
            raise SessionError(str(exc)) from None
        except (PageFault, MemoryError_) as exc:
            raise SessionError(f"cannot read memory: {exc}") from None

    def resolve(self, text: str, physical: bool = False) -> int:
        """A location (seg:off, *linear, expression) as a linear (or physical) address."""
        from debugger.engine.addresses import parse_location, parse_physical
        from debugger.engine.expr import ExprError

        try:
            loc = parse_physical(text, self.context()) if physical else \
                parse_location(text, self.context())
        except ExprError as exc:
            raise SessionError(str(exc)) from None
        except (PageFault, MemoryError_) as exc:
            raise SessionError(f"cannot read memory: {exc}") from None
        return int(loc.value)

    # -- memory ----------------------------------------------------------------------------------------
    def read_memory(self, address: int, size: int, space: str = "linear") -> bytes:
        mem = self.machine.mem
        _address(address)
        if size < 0:
            raise SessionError(f"cannot read {size} bytes")
        try:
            if space == "physical":
                return mem.read_phys(address, size)
            return mem.read_linear(address, size)
        except PageFault as exc:
            raise SessionError(f"cannot read {size} bytes at {space} {address:#x}: "
                               f"{self._fault_text(exc)}") from None
        except MemoryError_ as exc:
            raise SessionError(f"cannot read {size} bytes at {space} {address:#x}: {exc}") \
                from None

    def _fault_text(self, exc: PageFault) -> str:
        """A page fault with the level of the walk that failed ('PTE 0x5 is not present')."""
        w = self.translate(exc.linear)
        return f"{exc}: {w.fault}" if w.fault else str(exc)

    def write_memory(self, address: int, data: bytes, space: str = "linear") -> None:
        mem = self.machine.mem
        _address(address)
        self._edited("memory", address=address, space=space, data=bytes(data))
        try:
            if space == "physical":
                mem.write_phys(address, data)
            else:
                mem.write_linear(address, data)
        except (PageFault, MemoryError_) as exc:
            raise SessionError(f"cannot write at {space} {address:#x}: {exc}") from None

    # -- paging --------------------------------------------------------------------------------------
    def translate(self, linear: int, access: str = "read", cpl: int | None = None) -> Any:
        """The page walk for `linear` (a `paging.Walk`): each entry read, the physical address,
        or the #PF an access ("read", "write", "fetch") at `cpl` (default: the current one)
        would raise."""
        from debugger.engine import paging

        if access not in ("read", "write", "fetch"):
            raise SessionError(f"access must be read, write or fetch, not {access!r}")
        st = self.state()
        user = (st.cpl if cpl is None else cpl) == 3
        return paging.walk(self.machine.mem.read_phys, (st.cr0, st.cr3, st.cr4, st.efer),
                           linear, write=access == "write", fetch=access == "fetch",
                           user=user, a20=st.a20)

    def mappings(self) -> list[Any]:
        """Every present page (`paging.Mapping`) in linear order; empty with paging off."""
        from debugger.engine import paging

        st = self.state()
        return list(paging.mappings(self.machine.mem.read_phys, (st.cr0, st.cr3, st.cr4,
                                                                 st.efer)))

    def disassemble(self, linear: int | None = None, count: int = 10,
                    bits: int | None = None) -> list[Insn]:
        st = self.state()
        if linear is None:
            linear = st.pc
        bits = bits or st.bits
        code = b""
        for n in (count * 15, 64, 16, 1):
            try:
                code = self.machine.mem.read_linear(linear, n)
                break
            except (PageFault, MemoryError_):
                continue
        return disassemble(code, linear, bits, count)

    # -- points ----------------------------------------------------------------------------------------
    def break_at(self, location: str | int, *, physical: bool = False, temporary: bool = False,
                 condition: str | None = None, ignore: int = 0) -> Breakpoint:
        addr = _address(location) if isinstance(location, int) else \
            self.resolve(location, physical)
        cond = self.parse(condition) if condition else None
        bp = Breakpoint(linear=addr, physical=physical, location=str(location),
                        temporary=temporary, condition=cond, ignore=ignore)
        self.points.add(bp)
        return bp

    def watch(self, location: str | int, length: int = 1, access: str = "write",
              space: str = "linear", condition: str | None = None) -> Watchpoint:
        if access not in ("write", "read", "access"):
            raise SessionError(f"unknown watch access {access!r} (write, read or access)")
        if not 1 <= length <= 1 << 20:
            raise SessionError(f"watch length {length} out of range")
        addr = _address(location) if isinstance(location, int) else self.resolve(
            location, space == "physical")
        wp = Watchpoint(address=addr, length=length, access=access, space=space,
                        location=str(location), condition=self.parse(condition) if condition
                        else None)
        self.points.add(wp)
        return wp

    def watch_io(self, first: int, last: int | None = None, direction: str = "both",
                 value: str | None = None) -> IoWatch:
        if direction not in ("in", "out", "both"):
            raise SessionError(f"unknown I/O direction {direction!r} (in, out or both)")
        last = first if last is None else last
        if not 0 <= first <= last <= 0xFFFF:
            raise SessionError(f"bad port range {first:#x}-{last:#x}")
        w = IoWatch(first=first, last=last, direction=direction,
                    value=self.parse(value) if value else None)
        self.points.add(w)
        return w

    def watch_expr(self, text: str) -> ExprWatch:
        e = self.parse(text)
        w = ExprWatch(expr=e, text=text, last_value=self.eval(e))
        self.points.add(w)
        return w

    def catch(self, kind: str, *args: Any, fail: bool = False) -> Catchpoint:
        from debugger.engine.catchargs import normalise

        if kind not in CATCH_KINDS:
            raise SessionError(f"unknown catchpoint kind {kind!r}; one of: "
                               + ", ".join(CATCH_KINDS))
        try:
            norm = normalise(kind, args, self.profile)
        except ValueError as exc:
            raise SessionError(str(exc)) from None
        cp = Catchpoint(catch=kind, args=norm, fail=fail)
        self.points.add(cp)
        return cp

    def delete(self, number: int | None = None) -> None:
        if number is None:
            self.points.clear()
            return
        try:
            self.points.delete(number)
        except KeyError as exc:
            raise SessionError(message_of(exc)) from None

    def point(self, number: int) -> Point:
        try:
            return self.points.get(number)
        except KeyError as exc:
            raise SessionError(message_of(exc)) from None

    def enable(self, number: int, on: bool = True) -> None:
        self.point(number).enabled = on
        self.points.changed()

    def condition(self, number: int, text: str | None) -> None:
        self.point(number).condition = self.parse(text) if text else None
        self.points.changed()

    def ignore(self, number: int, count: int) -> None:
        self.point(number).ignore = max(0, count)

    # -- checker ---------------------------------------------------------------------------------------
    def check(self, profile: str | None = None, state: CpuState | None = None) -> "Verdict":
        prof = profile or self.profile
        st = state or self.state()
        # Catchpoints on VM-entry verdicts ask at every stop, mostly for states that differ only
        # in general registers, which no rule reads (they are not in the guest-state area).
        memo = self._check_memo
        if memo is None or memo[0] is not st:
            memo = self._check_memo = (st, _key_of(st), {})
        v = memo[2].get(prof)
        if v is None:
            from debugger.checks import PROFILES, evaluate

            if prof not in PROFILES:
                raise SessionError(f"unknown profile {prof!r}; one of: {', '.join(PROFILES)}")
            key = (prof, memo[1])
            v = self._verdicts.get(key)
            if v is None:
                if len(self._verdicts) >= 512:
                    self._verdicts.clear()
                v = self._verdicts[key] = evaluate(st, prof)
            memo[2][prof] = v
        return v

    def set_profile(self, name: str) -> None:
        from debugger.checks import PROFILES

        if name not in PROFILES:
            raise SessionError(f"unknown profile {name!r}; one of: {', '.join(PROFILES)}")
        self.profile = name

    # -- running ---------------------------------------------------------------------------------------
    def step(self, n: int = 1) -> StopEvent:
        """Execute `n` instructions (stopping early at a breakpoint, watchpoint or catchpoint)."""
        if n < 1:
            raise SessionError("step count must be at least 1")
        if n == 1:
            return self._lean_step() or self._run(
                lambda: runner.run_exact(self, n, step_kind="step"))
        # The fast path stops exactly too; only the name of a completed count differs.
        return self._run(lambda: runner.run(self, n, budget_kind="step"))

    def cont(self, max_insns: int | None = None, timeout: float | None = None) -> StopEvent:
        """Run until a point fires, the guest stops for good, a budget ends, or Ctrl-C."""
        return self._run(lambda: runner.run(self, max_insns, timeout))

    def next(self) -> StopEvent:
        """Step over CALL, INT, REP and LOOP: run until the instruction after this one."""
        st = self.state()
        ins = self.disassemble(st.pc, 1)
        if not ins or self.machine.bios.vector_at(st.pc) is not None:
            return self.step()      # (a BIOS stub: the service and its IRET are one step)
        i = ins[0]
        over = i.mnemonic.startswith(("call", "int", "rep", "loop")) or i.mnemonic in (
            "into", "int3", "int1")
        if not over:
            return self.step()
        return self._run(lambda: runner.run_to(self, st.pc + i.size, kind="step",
                                               same_stack=st))

    def until(self, location: str | int) -> StopEvent:
        addr = _address(location) if isinstance(location, int) else self.resolve(location)
        return self._run(lambda: runner.run_to(self, addr, kind="until"))

    def finish(self) -> StopEvent:
        """Run until the current function or interrupt handler returns."""
        return self._run(lambda: runner.run_finish(self))

    def restart(self) -> StopEvent:
        """The guest back at the hand-off state, points kept (debugger.engine.restart)."""
        from debugger.engine.restart import restart

        return restart(self, SessionError)

    def interrupt(self) -> None:
        """Stop a running `cont` at the next instruction boundary (safe from a signal handler).

        The request sticks until the run ends: the machine's own flag is cleared whenever the
        engine starts another stretch (a stop being localised re-executes from a checkpoint),
        so a request that arrives between two of them is seen by the run loops here."""
        self.interrupt_requested = True
        self.machine.interrupt()

    def _lean_step(self) -> StopEvent | None:
        """`step()` with nothing armed: the machine's lean path and a stop event built from the
        four fields it needs (the API single-step speed).  None: take the general path."""
        if self._internal_exits or self.points.active():
            return None
        if getattr(getattr(self, "activity", None), "transitions", False):
            return None               # the activity log compares the state after each step
        m = self.machine
        cached = self._state_key == (m.icount, m.mutations, self._mut)
        before: Any = self._state_cache if cached else m.cpu.raw_state()
        pc, icount = m.cpu.linear_pc(), m.icount
        with self._lock:
            try:
                r = m.step_lean()
            except _ENGINE_ERRORS as exc:
                raise SessionError(f"cannot run the guest: {_why(exc)}") from None
            if r is False:
                return None
            self._mut += 1
        if r is not None and r.reason not in (Stop.BUDGET, Stop.EVENT):
            ev = runner.machine_stop(self, r, pc if m.icount > icount else None)
        else:
            cs, rip, linear, bits = m.cpu.where()
            ev = StopEvent("step", m.icount, cs, rip, linear, bits=bits)
        return self._stopped(before, ev)

    def _run(self, fn: Callable[[], StopEvent]) -> StopEvent:
        before = self.state()
        with self._lock:
            self._mut += 1
            self.interrupt_requested = False
            try:
                ev = fn()
            except _ENGINE_ERRORS as exc:
                # The engine refused (an address or value out of its range): one line, and
                # the session stays usable.
                raise SessionError(f"cannot run the guest: {_why(exc)}") from None
        return self._stopped(before, ev)

    def _stopped(self, before: Any, ev: StopEvent) -> StopEvent:
        self._prev_state = before
        self.last_stop = ev
        self.stops.append(ev)
        for cb in list(self.on_stop):
            cb(ev)
        return ev

    # -- misc ------------------------------------------------------------------------------------------
    @property
    def serial(self) -> bytes:
        return self.machine.serial

    @property
    def debugcon(self) -> bytes:
        """Everything the guest wrote to port E9h (Bochs/QEMU debug console), as `serial`."""
        return self.machine.devices.debugcon.output

    def screen(self) -> list[str]:
        return self.machine.devices.vga.screen_text()

    def mode(self) -> Mode:
        return self.state().mode

    def points_of(self, cls: type) -> Iterable[Any]:
        return self.points.active(cls)
