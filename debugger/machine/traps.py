"""The machine's hooks into the engine while it runs: interrupts and exceptions as Unicorn
reports them (recorded as a pending event for the run loop, which handles it with the engine at
rest), invalid opcodes, port I/O through the bus, SYSENTER/SYSCALL, RDTSC and accesses to memory
with nothing behind it.  A part of `Machine` (mixed into it in pc.py), in a file of its own; it
sees the rest of the machine as `self`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unicorn import unicorn_const as uconst
from unicorn import x86_const as x

from debugger.cpustate import RF_IF
from debugger.machine import softint, uc_layout
from debugger.machine.portio import io_allowed

__all__ = ["EngineHooks", "Pending"]


@dataclass
class Pending:
    kind: str        # "intr" | "bios" | "ud" | "sysenter" | "syscall" | "task" | "reset" | "unmapped"
    vector: int = 0
    is_int: bool = False
    error_code: int = 0
    address: int = 0
    access: str = ""
    saved_regs: bytes = b""    # a refused IN/OUT: the GPRs before Unicorn went on
    next_rip: int | None = None  # INT 6 reported as #UD: the address after it (softint.py)


class EngineHooks:
    """The engine hooks of `debugger.machine.pc.Machine` (installed by `_install_hooks`)."""

    def restarts_address(self) -> int | None:
        """Where the machine counts the instructions QEMU ran twice (a store into the running
        block undoes the first attempt): an int64 that only grows, for native hooks."""
        return self._blocks.restarts_address

    def running_icount(self) -> int:
        """The instruction count, also exact from inside a Unicorn hook during a run."""
        return self._slice_base + self.eng.emu_counter

    def _sync_clock(self) -> None:
        self.clock.icount = self._clock_base + (
            self._fast.at if self._blocks.counting else self.eng.emu_counter)

    def _hook_intr(self, uc: Any, intno: int, _ud: Any) -> None:
        self.cpu.reset_fault_counter()
        is_int = bool(self.eng.i32(uc_layout.OFF_IS_INT))
        if not is_int and not self._blocks.counting:
            self._repair_lazy_flags(intno)
        if intno == 3 and is_int:
            vec = self.bios.vector_at(self._pc() - 1)
            if vec is not None:         # the int3 that starts a BIOS stub: a service call
                self._pending = Pending("bios", vec)
                uc.emu_stop()
                return
        self._pending = Pending("intr", intno, is_int, self.eng.u32(uc_layout.OFF_ERROR_CODE))
        uc.emu_stop()

    def _repair_lazy_flags(self, vector: int) -> None:
        """A fault inside an instruction run under a code hook: the flags must be those before it.

        After every code hook Unicorn folds the lazy flags into cc_src (cc_op CC_OP_EFLAGS);
        a fault raised while the instruction runs then restores cc_op from the instruction's
        start, when it was still the operation before, and the pair no longer agrees: after
        `sub ecx, ebp`, a page fault on a store delivered EFLAGS without AF (stepping, one
        instruction per run, had them right).  Only a fault in the instruction fetch happens
        before the hook (nothing folded, nothing restored): #PF with CR2 in the instruction."""
        if vector == 1 and not self.eng.u64(uc_layout.OFF_DR + 7 * 8) & 0xFF:
            # A single-step trap (no DR7 breakpoint enabled) comes after its instruction has
            # run: cc_op is that instruction's own, and forcing CC_OP_EFLAGS made its lazy
            # operands the flags (garbage IOPL, a wrong CF: tests/machine/test_intdeliver.py).
            return
        if vector == 14:
            pc = self.cpu.linear_pc()
            if 0 <= (self.cpu.cr(2) - pc) & 0xFFFFFFFFFFFFFFFF < 16:
                return
        self.eng.set_i32(uc_layout.OFF_CC_OP, uc_layout.CC_OP_EFLAGS)

    def _hook_invalid(self, uc: Any, _ud: Any) -> bool:
        if self._pending is None:
            after = softint.software_int6(self)
            self._pending = Pending("ud", 6) if after is None else \
                Pending("intr", 6, True, next_rip=after)
        uc.emu_stop()
        return True

    def _hook_in(self, uc: Any, port: int, size: int, _ud: Any) -> int:
        if self._blocks.counting and not self._fast.enter():
            return self._fast_refuse()
        self._device_epoch += 1
        if not io_allowed(self, port, size):
            return self._io_denied(size)
        self._sync_clock()
        value = self.bus.read(port, size)
        self._after_io()
        return value

    def _hook_out(self, uc: Any, port: int, size: int, value: int, _ud: Any) -> None:
        if self._blocks.counting and not self._fast.enter():
            self._fast_refuse()
            return
        self._device_epoch += 1
        if not io_allowed(self, port, size):
            self._io_denied(size)
            return
        self._sync_clock()
        self.bus.write(port, size, value)
        self._after_io()

    def _io_denied(self, size: int) -> int:
        """An IN/OUT the I/O permission check refuses: #GP(0) at the instruction, no effect."""
        if self._pending is None:
            self._pending = Pending("io-gp", 13, error_code=0, address=self.cpu.rip,
                                     saved_regs=self.eng.read(uc_layout.OFF_REGS, 8 * 8))
        self._stop_after_io()
        return self.cpu.gpr(0) & ((1 << (8 * size)) - 1)

    def _after_io(self) -> None:
        if self._blocks.counting:
            self._fast.after_io()
            return
        if self.bus.stop_requested or self._external is not None:
            self._stop_after_io()       # (a device or `on_serial` asked: right after the access)
            return
        deadline = self.bus.next_deadline()
        if deadline is not None and deadline < self._slice_until:
            # The access moved a device event (a timer reprogrammed) before the planned end of
            # this slice: stop so that the event happens at its instruction, as when stepping.
            self._stop_after_io()
        if self.devices.pic.pending_vector() is not None and (
                self.cpu.eflags & RF_IF or not self._irqwait.armed):
            # Deliverable now, or waiting for IF without the watcher that stops when IF becomes
            # 1 (a guest polling a port with interrupts off stopped at every IN before).
            self._stop_after_io()

    def _stop_after_io(self) -> None:
        # The engine stops before the next instruction, but Unicorn's count hook has counted
        # that one already when it is in the same block: remember the count that is true.
        if self._stop_count is None:
            self._stop_count = self.eng.emu_counter
        self.uc.emu_stop()

    def _hook_sysenter(self, uc: Any, _ud: Any) -> None:
        self._pending = Pending("sysenter")
        uc.emu_stop()

    def _hook_syscall(self, uc: Any, _ud: Any) -> None:
        self._pending = Pending("syscall")
        uc.emu_stop()

    def _hook_rdtsc(self, _uc: Any, _ud: Any) -> int:
        from debugger.machine.devices.tsc import tsc_value

        if self._blocks.counting and not self._fast.enter():
            self._fast_refuse()
            return 1
        self._fast.current = None       # (no request_stop from here)
        self._sync_clock()
        v = tsc_value(self.clock)
        # (EDX:EAX, bits 63:32 of RAX and RDX cleared: the SDM, QEMU 7.2's helper_rdtsc)
        self.uc.reg_write(x.UC_X86_REG_RAX, v & 0xFFFFFFFF)
        self.uc.reg_write(x.UC_X86_REG_RDX, (v >> 32) & 0xFFFFFFFF)
        return 1

    def _hook_unmapped(self, uc: Any, access: int, address: int, size: int, value: int,
                       _ud: Any) -> bool:
        kind = {uconst.UC_MEM_READ_UNMAPPED: "read", uconst.UC_MEM_WRITE_UNMAPPED: "write",
                uconst.UC_MEM_FETCH_UNMAPPED: "fetch"}.get(access, "access")
        self._pending = Pending("unmapped", address=address, access=kind)
        return False
