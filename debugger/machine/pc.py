"""The PC: engine, memory, devices, BIOS and the run loop that makes Unicorn behave like hardware.

The run loop executes the guest in slices with Unicorn's instruction-count limit (so the
instruction counter is exact), and stops the engine for every event Unicorn does not handle the
way a PC would: interrupts and exceptions (delivered by `delivery`), BIOS stubs (serviced in
Python), SYSENTER/SYSCALL, HLT (time advances to the next device event), device deadlines (the
timer), a guest reset or triple fault.  All such work happens with the engine at rest.

Counting rules for `icount` (stable, documented in the README): every instruction Unicorn starts
counts 1 -- a faulting instruction counts once per attempt, each iteration of a REP string
instruction counts 1 plus 1 for the final check, `INT n` counts 1, and interrupt delivery, BIOS
services and time spent halted count 0.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from unicorn import UC_HOOK_INSN, UC_HOOK_INSN_INVALID, UC_HOOK_INTR, UC_HOOK_MEM_UNMAPPED, UcError
from unicorn import x86_const as x

from debugger.cpustate import (
    RF_IF,
    RF_VM,
    Activity,
    CpuState,
    Segment,
)
from debugger.machine import exactfix, holes, hotports, rom, slices, uc_layout
from debugger.machine.bios import Bios
from debugger.machine.bus import Clock, IoBus
from debugger.machine.cpu import Cpu
from debugger.machine.delivery import (
    Delivery,
)
from debugger.machine.disk import Disk
from debugger.machine.events import EventLog
from debugger.machine.faults import FaultRules
from debugger.machine.memory import Memory
from debugger.machine.portio import FastIo
from debugger.machine.results import RunResult, Stop, StopRequest
from debugger.machine.exits import ExitRules
from debugger.machine.pending import PendingEvents
from debugger.machine.slices import REDO, UNSET, FastSlices
from debugger.machine.traps import EngineHooks, Pending

if TYPE_CHECKING:
    from debugger.machine.snapshot import Checkpoint

__all__ = ["Machine", "MachineConfig", "RunResult", "Stop", "StopRequest"]

SLICE = 1 << 24          # at most this many instructions per emu_start


@dataclass
class MachineConfig:
    ram_size: int = 128 << 20              # QEMU's default
    boot_drive: int | None = None          # BIOS drive number; default: first floppy, else hda
    ns_per_insn: int = 10
    serial_input: bytes = b""
    keys: str = ""


class Machine(EngineHooks, FastSlices, FaultRules, ExitRules, PendingEvents):
    def __init__(self, disks: list[Disk], config: MachineConfig | None = None) -> None:
        self.config = config or MachineConfig()
        self.disks = {d.bios_number: d for d in disks}
        self.eng = uc_layout.open_engine()
        self.uc = self.eng.uc
        self.cpu = Cpu(self.eng)
        self.clock = Clock(self.config.ns_per_insn)
        self.icount = 0
        self.events = EventLog(lambda: self.icount)
        self.mem = Memory(self.uc, self.config.ram_size, self.cpu.paging_regs,
                          lambda: self.cpu.a20)
        self.delivery = Delivery(self.cpu, self.mem)
        self.bus = IoBus(self.events)
        self.serial_out = bytearray()
        self._serial_hw = 0
        self._external: RunResult | None = None
        self._external_at: int | None = None    # (where it is due: see request_stop)
        self.on_serial: Callable[[int], None] | None = None
        self.extra_exits: set[int] = set()
        self.event_filter: Callable[[str, dict[str, Any]], bool] | None = None
        # Called with the machine icount at the start of every emu_start (native hooks use it).
        self.slice_listeners: list[Callable[[int], None]] = []
        # Called with the icount before a BIOS service changes the state (the full trace).
        self.service_listeners: list[Callable[[int], None]] = []
        # Asked after every emu_start; a non-None answer ends the run (native hooks use it).
        self.slice_end_checks: list[Callable[[], RunResult | None]] = []
        # A native code hook that can count instructions the way Unicorn's count hook does (the
        # full-trace recorder's): `arm(limit)` makes it count and stop, `disarm()` stops that,
        # `limit_address` is where its limit lives.  While it is the only code hook, counted
        # slices run without Unicorn's count hook, so Unicorn calls it straight from the
        # translated code instead of through its hook dispatcher.
        self.self_counter: Any = None
        # Called after each interrupt, IRQ or exception is delivered to the guest:
        # fn(vector, kind "int"|"irq"|"exception", error_code, cs, ip) with CS:IP at delivery.
        self.interrupt_listeners: list[Callable[[int, str, int | None, int, int], None]] = []
        self._pending: Pending | None = None
        # Bumped whenever a device may have changed its next deadline outside a BIOS call
        # (guest I/O, a tick, a restore): the lean single step caches the deadline by it.
        self._device_epoch = 0
        self._deadline_key: tuple[int, int] = (-1, -1)
        self._deadline: int | None = None
        self._slice_base = 0
        self._exits_installed: list[int] | None = None
        self.stop_requested = False
        self.wall_deadline: float | None = None   # time.monotonic() after which HLT gives up
        self.mutations = 0          # bumped whenever the CPU state is changed from outside a run
        from debugger.machine import pagejournal

        # RAM, and the memory half of checkpoints (see snapshot.py)
        self.memsnap = pagejournal.attach(self.uc, self.config.ram_size, rom.EDGES)
        if not self.memsnap.native:
            self.mem.before_write = self.memsnap.touch
            self.memsnap.paging_regs = self.cpu.paging_regs
        self.mem.host_ram = self.memsnap.host_ram
        from debugger.machine import untouched

        # Unicorn's code invalidation leaves no trace in the guest (Accessed bits, CR2)
        self.invalidation_guard = untouched.install(self.uc, self.eng.env)
        holes.install(self.uc, self.config.ram_size)   # open bus and the ROM mirror
        self._install_devices()
        # C0000h-FFFFFh read-only where the host bridge's PAM registers say (rom.py)
        self.rom = rom.RomGuard(self.uc, self.devices.pci.pam,
                                lambda msg: self.request_stop(Stop.UNSUPPORTED, msg))
        self.mem.rom = self.rom
        self.devices.pci.links.on_pam = self.rom.sync
        self.bios = Bios(self)
        self._exits_key: object = None
        self._bios_asked: tuple[int, int] | None = None    # see _bios
        self._bios_tail: tuple[int, int] | None = None     # (linear IRET, icount) after a service
        self._fetch_exit: int | None = None         # see _block_lookahead_fault
        self._fetch_exit_was: int | None = None
        self._lookahead_probe: tuple[int, int, int | None, int, Any] | None = None
        self._shadow_exits: set[int] = set()                 # see shadow.py
        self._shadow_for: frozenset[int] | None = None       # the exits they were found for
        self._install_hooks()
        from debugger.machine.irqwait import IrqWait

        self._irqwait = IrqWait(self.eng, self.uc.ctl_flush_tb)
        from debugger.machine.blockcount import BlockCounter

        self._blocks = BlockCounter(self.eng)
        if self.memsnap.native:
            self._blocks.set_ram(self.memsnap.ram_address, self.config.ram_size)
            # (RAM is a host buffer of ours: REP MOVS/STOS in place)
            self._blocks.enable_rep(self.memsnap.ram_address, self.config.ram_size,
                                    self._irqwait.armed_address, self.memsnap.prepare_hook())
        from debugger.machine import intdeliver

        # Interrupts: delivered natively where it can (intdeliver.py), else by the Python hook.
        self._intr = intdeliver.install(self, self._hook_intr)
        if self._intr is None:
            self._hooks.append(self.uc.hook_add(UC_HOOK_INTR, self._hook_intr))
        else:
            self.events.before_emit = self._flush_native    # (the log stays in order)
        self._fast = FastIo(self)
        self._hot = hotports.attach(self)       # IN/OUT: native for the hot ports
        # BOOTDBG_NO_FAST_SLICES=1: count every instruction with Unicorn's hook (no per-slice
        # checkpoints; see README, Differences, for what checkpoints do to self-modifying code).
        self._fast_on = not os.environ.get("BOOTDBG_NO_FAST_SLICES")
        self.uc.ctl_flush_tb()
        self._own_hooks = len(self.uc._callbacks)   # more: someone hooks in, no fast slices
        self._tbs_uncounted = False
        self._start_error: UcError | None = None
        self.self_counted = 0       # counted runs made with `self_counter` (no count hook)
        self._fast_backoff = slices.FAST_MIN
        self._fast_resume_at = 0
        self._fast_irregular = 0
        self._stop_count: int | None = None
        self._special: tuple[int, int, int] | None = None     # see exactfix.py
        self._slice_until = 0
        self.fast_slices = 0          # slices counted by blocks
        self.fast_redone = 0          # ... that met something irregular and ran again exactly
        self.reset()

    # -- construction ------------------------------------------------------------------------------
    def _install_devices(self) -> None:
        from debugger.machine.devices import standard_devices

        self.devices = standard_devices(
            clock=self.clock, events=self.events,
            read_mem=lambda a, n: self.mem.read_phys(a, n),
            on_a20=self._on_a20, on_reset=self._on_reset,
            ram_size=self.config.ram_size, disks=list(self.disks.values()))
        for dev in self.devices.all():
            self.bus.attach(dev)
        self._own_bus = self.bus.changes       # (the bus with the machine's own devices only)
        self.devices.com1.on_tx = self._serial_tx
        if self.config.serial_input:
            self.devices.com1.feed(self.config.serial_input)
        if self.config.keys:
            self.devices.kbc.type_keys(self.config.keys)

    def _install_hooks(self) -> None:
        uc = self.uc
        self._hooks = [
            uc.hook_add(UC_HOOK_INSN_INVALID, self._hook_invalid),
            uc.hook_add(UC_HOOK_INSN, self._hook_sysenter, None, 1, 0, x.UC_X86_INS_SYSENTER),
            uc.hook_add(UC_HOOK_INSN, self._hook_syscall, None, 1, 0, x.UC_X86_INS_SYSCALL),
            uc.hook_add(UC_HOOK_MEM_UNMAPPED, self._hook_unmapped),
        ]
        # (RDTSC's hook: hotports.py, native with the hot ports)
        self.uc.ctl_flush_tb()

    # -- reset and hand-off --------------------------------------------------------------------------
    def boot_disk(self) -> Disk | None:
        if self.config.boot_drive is not None:
            return self.disks.get(self.config.boot_drive)
        for num in sorted(self.disks):
            return self.disks[num]
        return None

    def reset(self) -> None:
        """Power on: BIOS data, ROM, devices, boot sector at 0000:7C00, CPU in the hand-off state."""
        from debugger.machine.bios import handoff

        self.bus.reset()
        self._device_epoch += 1
        self.mem.write_phys(0, bytes(0x100000))
        self.bios.build_rom()
        self.rom.sync()
        self.cpu.activity = Activity.ACTIVE
        handoff.prepare(self)
        self.icount = 0
        self.uc.ctl_flush_tb()

    def load_real_segment(self, name: str, selector: int) -> None:
        """A segment-register load with real-mode (or vm86) semantics."""
        cur = self.cpu.seg(name)
        if self.cpu.eflags & RF_VM:
            seg = Segment.vm86(selector)
        else:
            seg = Segment(selector & 0xFFFF, (selector & 0xFFFF) << 4, cur.limit,
                          (cur.ar & ~0x10000) | 0x80)
        self.cpu.load_seg(name, seg)

    def checkpoint(self) -> "Checkpoint":
        from debugger.machine import snapshot

        return snapshot.take(self)

    def restore(self, cp: "Checkpoint") -> None:
        from debugger.machine import snapshot

        snapshot.restore(self, cp)
        self.rom.sync()
        if self._intr is not None:
            self._intr.discard()        # (deliveries of a run now undone)
        self._bios_asked = None
        self.mutations += 1
        self._device_epoch += 1
        snapshot.devices_restored(self, cp)
        self._exits_installed = None
        self._exits_key = None

    # -- state -----------------------------------------------------------------------------------------
    def state(self) -> CpuState:
        return self.cpu.read_state()

    def set_state(self, st: CpuState) -> None:
        self.mutations += 1
        self.cpu.write_state(st)
        self.uc.ctl_flush_tb()

    def _paging_regs(self) -> tuple[int, int, int, int]:
        return self.cpu.paging_regs()

    def a20_wrap(self, phys: int) -> int:
        return phys if self.cpu.a20 else phys & ~(1 << 20)

    @property
    def serial(self) -> bytes:
        return bytes(self.serial_out)

    def _serial_tx(self, byte: int) -> None:
        self.serial_out.append(byte)
        # After going back to a checkpoint, re-executed output is not echoed a second time.
        if len(self.serial_out) > self._serial_hw:
            self._serial_hw = len(self.serial_out)
            if self.on_serial:
                self.on_serial(byte)

    def request_stop(self, reason: str, message: str, **details: Any) -> None:
        """Ask the running loop to end the run (callable from inside a Unicorn hook).

        Asked inside a fast slice (by an I/O hook: `on_serial`, a device), the run ends right
        after the instruction that asked: if the slice cannot end there it runs again exactly,
        and the hooks do not ask again (the serial output is not echoed a second time), so the
        instruction count it is due at is kept (`_external_at`) and the run ends there."""
        self._external = RunResult(reason, message, self.icount, details)
        at = self._fast.current
        self._external_at = None if at is None else self._slice_base + at
        self.uc.emu_stop()

    def _on_a20(self, enabled: bool) -> None:
        if self.cpu.a20 != enabled:
            self.cpu.set_a20(enabled)

    def _on_reset(self) -> None:
        self._pending = Pending("reset")
        self.uc.emu_stop()

    def end_of_interrupt(self, vector: int) -> None:
        """What a BIOS IRQ handler does at its end: non-specific EOI to the PIC(s)."""
        if 0x70 <= vector < 0x78:
            self.bus.write(0xA0, 1, 0x20)
        self.bus.write(0x20, 1, 0x20)

    # -- the run loop ----------------------------------------------------------------------------------
    def run(self, max_insns: int | None = None) -> RunResult:
        """Run until an event ends the run or `max_insns` instructions have been executed.

        An address in `extra_exits` (a breakpoint) stops the run before the instruction there
        executes -- except at the very start of the run, so that resuming from a breakpoint
        executes the instruction it stopped at.
        """
        self.stop_requested = False
        self._blocks.stop_next(False)
        self._external = self._external_at = None
        self._deadline_key = (-1, -1)   # (devices may have been set up between runs)
        self._sync_exits()
        return self._loop(self.icount, max_insns, self._pc())

    def interrupt(self) -> None:
        """End the run at the next instruction boundary, with the exact count (Ctrl-C; safe from
        a signal handler, which Python runs inside whatever hook the engine is in, and from
        another thread): the engine stops before the next block it enters."""
        self.stop_requested = True
        self._blocks.stop_next()

    def _loop(self, start: int, max_insns: int | None, resume_pc: int | None) -> RunResult:
        while True:
            if self._lookahead_probe is not None:   # (a fault being told apart: faults.py)
                r = self._lookahead_replay()
                if r is not None:
                    return r
                continue
            if self.cpu.activity is Activity.SHUTDOWN:
                return self._result(Stop.TRIPLE_FAULT, "the CPU is in shutdown (triple fault)")
            if self.stop_requested:
                return self._result(Stop.INTERRUPT, "interrupted")
            if self._external is not None and (self._external_at is None
                                               or self.icount >= self._external_at):
                r, self._external, self._external_at = self._external, None, None
                r.icount = self.icount
                return r
            r = self._deliver_irq()
            if r is not None:
                return r
            used = self.icount - start
            if max_insns is not None and used >= max_insns:
                # (before the HLT wait: a run whose last instruction is a HLT ends there, the
                # CPU waiting; the wait and what ends it belong to the next run)
                return self._result(Stop.BUDGET, f"instruction budget of {max_insns} used up")
            if self.cpu.activity is Activity.HLT:
                r = self._wait_halted()
                if r is not None:
                    return r
                continue
            pc = self._pc()
            if pc == self._fetch_exit:          # (see _block_lookahead_fault)
                self._fetch_exit = None
                self._sync_exits()
            at_exit = pc in self.extra_exits
            if at_exit and pc != resume_pc and self._bios_tail != (pc, self.icount):
                return self._result(Stop.EXIT, f"reached {pc:#x}", address=pc)
            resume_pc = None
            vec = self.bios.vector_at(pc)
            if vec is not None:
                r = self._bios(vec, pc)
                if r is not None:
                    return r
                continue
            n = SLICE if max_insns is None else min(SLICE, max_insns - used)
            if self._external_at is not None:   # (a stop due there: see request_stop)
                n = max(1, min(n, self._external_at - self.icount))
            deadline = self._next_deadline()
            if deadline is not None:
                n = max(1, min(n, deadline - self.clock.icount))
            if self.devices.pic.pending_vector() is not None:
                if self.cpu.eflags & RF_IF:
                    # The STI/MOV-SS shadow: execute that one instruction, then deliver.
                    n = 1
                    self._irqwait.hold()
                else:
                    # IF=0: stop as soon as a block starts with IF=1.
                    self._irqwait.arm()
            elif self._irqwait.armed:
                self._irqwait.disarm()
            if at_exit or pc in self._shadow_exits:
                # Unicorn executes nothing when started at an exit: step this one without it.
                # (At a MOV SS/POP SS/STI just before an exit, so that the stop after it comes
                # from the instruction count, not from Unicorn's exit block: see shadow.py.)
                before = self.icount
                # (after a shadow setter, the exit after it must not run as Unicorn's exit
                # block either: the one instruction runs with no exit at all)
                self._sync_exits(without=frozenset(self._exits_set)
                                 if pc in self._shadow_exits else pc)
                r = self._run_slice(pc, 1)
                self._sync_exits()
                if r is None and self.icount == before and self._pc() == pc:
                    resume_pc = pc      # (nothing ran: still resuming from here)
            else:
                r = self._run_slice(pc, n)
            if r is not None:
                return r

    def _pc(self) -> int:
        return self.cpu.linear_pc()

    def step_lean(self) -> RunResult | None | bool:
        """Execute one instruction when nothing around it needs the run loop's general work.

        Returns False without executing anything when the full loop is needed (an interrupt to
        deliver, HLT, a BIOS stub or exit at CS:IP, a stop request) -- the caller then uses
        `run(1)`; otherwise what `run(1)` would return: None, or the RunResult of an event.
        This is the API single-step path, so it avoids everything that costs a microsecond.
        """
        if (self.cpu.activity is not Activity.ACTIVE or self.stop_requested
                or self._external is not None or self._irqwait.armed or self.mem.flush_pending
                or self.devices.pic.pending_vector() is not None):
            return False
        key = self._exits_key
        if (key is None or key[1] is not None or key[0] != self.extra_exits   # type: ignore
                or self._fetch_exit is not None):
            return False
        pc = self.cpu.linear_pc()
        if pc in self._exits_set or self.bios.vector_at(pc) is not None:
            return False
        before = self.icount
        r = self._run_slice(pc, 1, self._next_deadline())
        if r is not None:
            return r
        if (self.icount == before or self.cpu.activity is not Activity.ACTIVE
                or self.stop_requested or self._external is not None
                or self._lookahead_probe is not None
                or (self.cpu.eflags & RF_IF and self.devices.pic.pending_vector() is not None)):
            # What run(1) does after its instruction (deliver an IRQ, wait in HLT, a BIOS stub
            # reached without executing anything): the loop's own code.
            return self._loop(before, 1, None)
        return None

    def _next_deadline(self) -> int | None:
        """`bus.next_deadline()`, kept while no device can have changed.  A device's deadline
        is a function of its state, which changes only where the device epoch or the mutation
        count moves (guest I/O, ticks, BIOS services, interrupt deliveries, restores: the key
        checkpoints share device states by).  Kept only with the machine's own devices on the
        bus (a plugin's guarded model may answer otherwise), dropped at the start of a run."""
        key = (self._device_epoch, self.mutations)
        if key != self._deadline_key:
            self._deadline = self.bus.next_deadline()
            self._deadline_key = key if self.bus.changes == self._own_bus else (-1, -1)
        return self._deadline

    def _run_slice(self, pc: int, n: int, deadline: Any = UNSET) -> RunResult | None:
        self._stop_count = None
        sp, self._special, fix = self._special, None, None
        if sp is not None and sp[1] & 0xFFFFFFFF == pc & 0xFFFFFFFF:    # (see exactfix.py)
            one, fix = exactfix.prepare(self, sp)
            if one == 0:
                return self._run_task_switch(deadline)
            n = n if one is None else min(n, one)
        elif self._fast_allowed(n):
            r = self._run_fast(n, deadline)
            if r is not REDO:
                return r
            # Count per instruction only until fast slices are tried again.
            n = max(1, min(n, self._fast_resume_at - self.icount))
        elif self.icount < self._fast_resume_at and self._fast_allowed_later(n):
            # Backing off: counted only until fast slices are tried again, not for the whole
            # budget (a run that ended early once went on counted until its next event).
            n = min(n, self._fast_resume_at - self.icount)
        self._begin_slice(n)
        for fn in self.slice_listeners:
            fn(self.icount)
        done = self._run_counted(n)
        self._blocks.allow(None)
        self._special = self._blocks.take_special()
        if fix is not None and done and self._pending is None and self._start_error is None:
            fix()
        return self._end_slice(done, self._start_error, deadline)

    def _run_counted(self, n: int) -> int:
        """Run at most `n` instructions counted one by one; the number executed (the error the
        engine raised, if any, in `_start_error`)."""
        sc = self.self_counter
        own = sc is not None and self.eng.code_hooks() == 1
        self._prepare_start(counted=not own)
        self._start_error = None
        try:
            if own:
                self.self_counted += 1
                self._tbs_uncounted = True       # (translated without count hook calls)
                self._blocks.watch_restarts(sc.limit_address)
                sc.arm(n)
                try:
                    self.uc.emu_start(self.cpu.rip, 0, 0, 0)  # (Unicorn drops its count hook)
                finally:
                    sc.disarm()
            else:
                self.uc.emu_start(self.cpu.rip, 0, 0, n)
        except UcError as exc:
            self._start_error = exc
        finally:
            self._hot.disarm()
        return self._counted(n)

    def _counted(self, n: int) -> int:
        """Instructions the last count-hook run executed (of at most `n`)."""
        # A store into the running block makes QEMU run the storing instruction again, alone;
        # the count hook counts it twice (its limit was raised by one for each such re-run).
        again = self._blocks.restarts()
        # Unicorn's count hook counts the instruction at which it stops (not executed).
        done = min(self.eng.emu_counter, n + again)
        if self._stop_count is not None:
            done = min(done, self._stop_count)
            self._stop_count = None
        return done - again

    def _begin_slice(self, n: int) -> None:
        self._flush_native()
        self._pending = None
        self._fast.current = None
        self._stop_count = None     # (a fast slice's, e.g. an I/O #GP's, is not its redo's)
        self._slice_base = self.icount
        self._clock_base = self.clock.icount
        self._slice_until = self.clock.icount + n

    def _prepare_start(self, *, counted: bool = True) -> None:
        """Before an emu_start: with Unicorn's count hook (`counted`), or without (counted by
        blocks, or by the self-counting code hook)."""
        if self.mem.flush_pending or (counted and self._tbs_uncounted):
            # (blocks translated without the count hook have no calls to it: never reuse them)
            self.mem.flush_pending = False
            self._tbs_uncounted = False
            self.uc.ctl_flush_tb()
        # QEMU's nested-fault tracker must not carry anything across runs (we do #DF ourselves).
        self.cpu.reset_fault_counter()
        self.eng.clear_halted()
        if counted:
            self._blocks.watch_restarts()
        if self._intr is not None:
            self._intr.arm()
        self._hot.arm()

    def _flush_native(self) -> None:
        """What the native interrupt hook delivered in the last emu_start, as the Python
        path leaves it (events, listeners)."""
        if self._intr is not None:
            self._intr.flush(self._slice_base, self._blocks._restarts_base)
