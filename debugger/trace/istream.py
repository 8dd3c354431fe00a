"""The per-instruction stream of a .bdt recording: what `trace export` writes, `trace diff` reads.

A recording made without `--full` holds periodic checkpoints, not every instruction, so the
stream is produced by re-executing it (the machine is deterministic): `InstructionStream(path)`
opens the recording like `bootdbg replay` does, runs at full speed to the first instruction
asked for (applying the user's recorded edits at their icounts), then executes one instruction
at a time and yields, in order:

- `Step`: one executed instruction -- its icount, the state before and after it, its bytes and
  disassembly, and the memory it wrote (physical address, old bytes, new bytes) and, when asked
  for, read;
- `Event`: a change of state that executes no instruction (counts 0): a BIOS service run in
  Python at a ROM stub ("bios"), or an interrupt or exception delivered between instructions
  ("interrupt");
- `End`: the last item -- the icount and state where the stream stops and why ("range": the
  `stop` asked for; otherwise the machine's reason or the recording's recorded end).

Every recorded checkpoint the stream passes is checked against the state the recording holds,
so a replay that no longer matches the recording raises `TraceError` instead of exporting a run
that never happened.

A recording made with `--full` holds every instruction (`fulltrace`): then the steps are read
from it instead (`full=None`, the default, uses it when it covers the range and the recording
has no user edits; `full=False` always re-executes).  Its records fold the zero-instruction work
into the instruction before it, so that stream has no `Event`s: an interrupt's delivery and a
BIOS service's changes are part of the previous step (a step at a BIOS stub shows the state
before the service, and the instruction the machine executes after it, the stub's tail), and
it has no memory reads.  Old bytes of writes come from RAM rebuilt along the way.
"""
from __future__ import annotations

import atexit
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from unicorn import UcError

from debugger.cpustate import CpuState
from debugger.trace import format as F

__all__ = ["Step", "Event", "End", "Item", "InstructionStream", "ROM_FIRST", "ROM_END",
           "in_rom"]

# The PC ROM area (option ROMs, VGA BIOS, system BIOS): code there is the firmware's.
ROM_FIRST, ROM_END = 0xC0000, 0x100000


def in_rom(linear: int) -> bool:
    return ROM_FIRST <= linear < ROM_END


@dataclass(slots=True)
class Step:
    icount: int
    before: CpuState
    after: CpuState
    code: bytes
    text: str
    writes: list[tuple[int, bytes | None, bytes]] = field(default_factory=list)
    reads: list[tuple[int, bytes]] = field(default_factory=list)


@dataclass(slots=True)
class Event:
    icount: int
    kind: str            # "bios" | "interrupt" | "edit"
    message: str
    before: CpuState
    after: CpuState
    writes: list[tuple[int, bytes | None, bytes]] = field(default_factory=list)


@dataclass(slots=True)
class End:
    icount: int
    state: CpuState
    reason: str
    message: str = ""


Item = Step | Event | End


class InstructionStream:
    """Re-execute a recording instruction by instruction (see the module docstring)."""

    def __init__(self, path: str | Path, *, reads: bool = False,
                 full: bool | None = None) -> None:
        from debugger.trace.replay import Replay

        self.path = Path(path)
        self.rp = Replay(path)
        self.reads = reads
        self.damage = self.rp.reader.damage
        end = self.rp.end
        items = self.rp.inputs
        if end is not None:
            self.end_icount = int(end.get("icount", 0))
            self.end_reason = str(end.get("reason") or "end")
            self.end_message = str(end.get("message") or "")
        else:
            # Cut short: what happened after the last thing recorded is not known.
            self.end_icount = max((it[0] for it in items), default=0)
            self.end_reason = "cut"
            self.end_message = "the recording is cut short" + (
                f" ({self.damage})" if self.damage else "")
        self._items = items
        self._next = 0
        self.full = None if full is False else self._open_full(full)
        self._spent = False
        self._hooks: list[Any] = []
        self._exit_hook = False
        self._writes: list[tuple[int, int, bytes | None]] = []
        self._reads: list[tuple[int, bytes]] = []
        self.machine = self.rp.session.machine

    def _open_full(self, want: bool | None) -> Any:
        try:
            from debugger.trace.fulltrace import FullTrace
        except ImportError:
            return None
        try:
            ft = FullTrace(self.rp.reader)
        except F.TraceError:
            if want:
                raise
            return None
        if any(kind == "input" for _i, _s, kind, _p in self._items) and not want:
            return None      # edits: their memory changes are not in the records
        return ft

    def close(self) -> None:
        """Remove the memory hooks (a stream left half-read keeps them) and close the file."""
        self._disarm()
        self.rp.reader.close()

    def __enter__(self) -> "InstructionStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- positions ---------------------------------------------------------------------------------
    def _due(self) -> bool:
        """Apply the recorded edits due at the current icount (True if any); check the
        recorded checkpoints there."""
        m = self.machine
        edited = False
        while self._next < len(self._items) and self._items[self._next][0] <= m.icount:
            icount, _seq, kind, payload = self._items[self._next]
            self._next += 1
            if icount < m.icount:
                continue
            if kind == "input":
                self.rp.apply_input(payload)
                edited = True
            elif isinstance(payload.get("state"), dict):
                try:
                    want = CpuState.from_dict(payload["state"])
                except (TypeError, ValueError, KeyError):
                    raise F.TraceError(f"{self.path}: the checkpoint at icount {icount} is "
                                       "malformed") from None
                if m.state() != want:
                    raise F.TraceError(f"{self.path}: the replay no longer matches the "
                                       f"recording at icount {icount} (checkpoint state differs)")
        return edited

    def _advance(self, target: int) -> str | None:
        """Run at full speed to icount `target`; None, or why the machine stopped earlier."""
        m = self.machine
        self._due()
        while m.icount < target:
            nxt = target
            if self._next < len(self._items):
                nxt = min(nxt, max(self._items[self._next][0], m.icount + 1))
            r = m.run(nxt - m.icount)
            if r.reason != "budget" and m.icount < nxt:
                return r.reason
            self._due()
        return None

    # -- the stream --------------------------------------------------------------------------------
    def items(self, start: int = 0, stop: int | None = None) -> Iterator[Item]:
        """Steps and events for the instructions at icounts [start, stop), then an End."""
        m = self.machine
        if start < 0:
            raise F.TraceError("instruction counts start at 0")
        if m.icount > start:
            raise F.TraceError("the stream has already passed that icount")
        stop = self.end_icount if stop is None else min(stop, self.end_icount)
        ft = self.full
        if ft is not None and ft.first <= start and stop <= ft.last:
            if self._spent:
                raise F.TraceError("the stream has already been read")
            self._spent = True         # (it rewrites the replay's RAM as it goes)
            yield from self._full_steps(ft, start, stop)
            return
        why = self._advance(min(start, stop))
        if why is not None:
            yield End(m.icount, m.state(), why, f"the run ends before icount {start}")
            return
        self._arm()
        try:
            end = yield from self._steps(stop)
        finally:
            self._disarm()
        yield end                       # (hooks off: a reader may stop at the End)

    def _steps(self, stop: int):  # -> Generator[Item, None, End]
        from debugger.disasm import decode_one
        from debugger.machine.memory import MemoryError_, PageFault

        m = self.machine
        st = m.state()
        while m.icount < stop:
            st, end = yield from self._settle(st)
            if end is not None:
                return end
            pc = st.pc
            code = b""
            for n in (16, 8, 4, 1):
                try:
                    code = m.mem.read_linear(pc, n)
                    break
                except (PageFault, MemoryError_):
                    continue
            ins = decode_one(code, pc, st.bits) if code else None
            self._writes.clear()
            self._reads.clear()
            before = m.icount
            r = m.run(1)
            if m.icount != before + 1:
                if m.icount == before:
                    return End(m.icount, m.state(), r.reason, r.message)
                raise F.TraceError(f"icount {before}: one step executed "
                                   f"{m.icount - before} instructions")
            after = m.state()
            yield Step(before, st, after, ins.bytes if ins else code[:1],
                       ins.text if ins else "(unreadable)", self._written(), list(self._reads))
            st = after
        if stop >= self.end_icount:
            return End(m.icount, st, self.end_reason, self.end_message)
        return End(m.icount, st, "range", f"stopped at icount {stop} as asked")

    def _full_steps(self, ft: Any, start: int, stop: int) -> Iterator[Item]:
        """Steps read from the per-instruction trace (see the module docstring)."""
        from debugger.disasm import decode_one
        from debugger.machine.memory import Memory, MemoryError_, PageFault
        from debugger.trace.fulltrace import state_from_slots

        m = self.machine
        why = self._advance(ft.first)      # RAM as it is where the trace starts
        if why is not None or m.icount != ft.first:
            raise F.TraceError(f"{self.path}: the replay does not reach icount {ft.first}, "
                               "where the per-instruction trace starts")
        uc = m.uc
        cur: list[CpuState] = [state_from_slots(ft.slots_at(ft.first))]
        view = Memory(uc, m.mem.ram_size,
                      lambda: (cur[0].cr0, cur[0].cr3, cur[0].cr4, cur[0].efer),
                      lambda: cur[0].a20)
        st = cur[0]
        for step in ft.steps(ft.first, stop):
            ic = step.icount - 1
            if ic >= start:
                cur[0] = st = state_from_slots(step.before)
                pc = st.pc
                if m.bios.vector_at(pc) is not None:
                    pc += 1             # the service ran, then the stub's tail executes
                code = b""
                for n in (16, 8, 4, 1):
                    try:
                        code = view.read_linear(pc, n)
                        break
                    except (PageFault, MemoryError_):
                        continue
                ins = decode_one(code, pc, st.bits) if code else None
            writes = []
            for addr, data in step.writes:
                try:
                    old: bytes | None = bytes(uc.mem_read(addr, len(data)))
                    m.memsnap.touch(addr, len(data))
                    uc.mem_write(addr, data)
                except UcError:
                    old = None
                writes.append((addr, old, data))
            if ic >= start:
                after = state_from_slots(step.after)
                yield Step(ic, st, after, ins.bytes if ins else code[:1],
                           ins.text if ins else "(unreadable)", writes)
                st = after
        if start >= stop:
            st = state_from_slots(ft.slots_at(stop))
        if stop >= self.end_icount:
            yield End(stop, st, self.end_reason, self.end_message)
        else:
            yield End(stop, st, "range", f"stopped at icount {stop} as asked")

    def _settle(self, st: CpuState):  # -> Generator[Event, None, tuple[CpuState, End | None]]
        """Do the zero-instruction work due before the next instruction: deliver a pending
        interrupt, apply recorded edits, service a BIOS stub.  Yields Events; returns the state
        before the next instruction and an End if the machine cannot go on."""
        m = self.machine
        while True:
            mut = m.mutations
            self._writes.clear()
            r = m.run(0)
            if m.mutations != mut:
                now = m.state()
                yield Event(m.icount, "interrupt", "interrupt or exception delivered", st, now,
                            self._written())
                st = now
            if r.reason != "budget":
                return st, End(m.icount, m.state(), r.reason, r.message)
            self._writes.clear()
            if self._due():
                now = m.state()
                yield Event(m.icount, "edit", "the user's recorded edit", st, now,
                            self._written())
                st = now
            pc = m._pc()
            vec = m.bios.vector_at(pc)
            if vec is None:
                return st, None
            # A BIOS stub: the machine runs the service and leaves the CPU at the stub's tail,
            # before executing anything.
            self._writes.clear()
            r = m.service_bios()
            now = m.state()
            yield Event(m.icount, "bios", f"BIOS INT {vec:02X}h", st, now, self._written())
            st = now
            if r is not None:
                return st, End(m.icount, now, r.reason, r.message)

    def _written(self) -> list[tuple[int, bytes | None, bytes]]:
        """The memory written since `_writes` was cleared: (physical address, old, new)."""
        from debugger.machine.memory import MemoryError_

        out = []
        for addr, size, old in self._writes:
            try:
                out.append((addr, old, self.machine.mem.read_phys(addr, size)))
            except MemoryError_:
                continue
        return out

    # -- memory hooks ----------------------------------------------------------------------------
    def _arm(self) -> None:
        from unicorn import UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE

        if not self._exit_hook:
            # A stream left half-read keeps its hooks; Unicorn must not outlive them at exit.
            ref = weakref.ref(self)
            atexit.register(lambda: (s := ref()) is not None and s._disarm())
            self._exit_hook = True

        uc = self.machine.uc
        self._hooks.append(uc.hook_add(UC_HOOK_MEM_WRITE, self._on_write))
        if self.reads:
            self._hooks.append(uc.hook_add(UC_HOOK_MEM_READ, self._on_read))
        uc.ctl_flush_tb()
        # Writes the machine makes in Python (interrupt delivery, BIOS services, edits).
        self.machine.mem.write_hooks.append(self._on_host_write)

    def _disarm(self) -> None:
        if not self._hooks:
            return
        if self._on_host_write in self.machine.mem.write_hooks:
            self.machine.mem.write_hooks.remove(self._on_host_write)
        uc = self.machine.uc
        for h in self._hooks:        # (leaves the guest as it was: machine/untouched.py)
            uc.hook_del(h)
        self._hooks = []
        uc.ctl_flush_tb()

    def _on_write(self, uc: Any, _access: int, address: int, size: int, _value: int,
                  _ud: Any) -> None:
        try:
            old: bytes | None = bytes(uc.mem_read(address, size))
        except UcError:         # MMIO or unmapped: no bytes to show
            old = None
        self._writes.append((address, size, old))

    def _on_host_write(self, phys: int, size: int) -> None:
        self._writes.append((phys, size, None))   # already written: the old bytes are gone

    def _on_read(self, uc: Any, _access: int, address: int, size: int, _value: int,
                 _ud: Any) -> None:
        try:
            self._reads.append((address, bytes(uc.mem_read(address, size))))
        except UcError:         # MMIO or unmapped: nothing to show
            return
