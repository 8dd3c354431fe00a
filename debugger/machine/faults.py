"""How the machine raises exceptions and takes interrupts, the way a CPU does: delivery through
the IVT/IDT with the double- and triple-fault rules, an IRQ taken when IF allows it, HLT, and
the page faults QEMU's translator raises by reading ahead of a block (which a CPU raises only
once the instruction before has run).  A part of `Machine` (mixed into it in pc.py), in a file of
its own; it sees the rest of the machine as `self`.
"""
from __future__ import annotations

from typing import Any

from debugger.cpustate import RF_IF, Activity
from debugger.machine import uc_layout
from debugger.machine.delivery import (
    VECTOR_NAMES, GuestFault, Unsupported, promotes_to_double_fault,
)
from debugger.machine.halt import wait_halted
from debugger.machine.memory import MemoryError_
from debugger.machine.taskswitch import DR6_BT
from debugger.machine.results import RunResult, Stop

__all__ = ["FaultRules"]


class FaultRules:
    """Exception raising and delivery rules of `debugger.machine.pc.Machine`."""

    def _block_lookahead_fault(self, error_code: int | None = None) -> bool:
        """Was this page fault raised by the translator reading ahead?  QEMU 5 translates a
        block in one go: when an instruction after the first falls through onto a page that is
        not present, the fetch fault is raised for the block's first instruction, before any of
        it ran (QEMU 7.2, like a CPU, runs the instructions before it).  Then run again up to
        that instruction (an exit there ends the block before it) and let its fetch fault.

        CR2 keeps the fault address (a CPU would set it to the same when the fetch faults).

        The first instruction's own fault can look the same (a memory operand, the stack, a
        descriptor: the same address, the same error code).  Which it was, the run tells: a
        fault the translator raises comes before the instruction's count, its own after.  So
        the same run is made again from the same state (the same block, translated or looked up
        the same way): if it counts the instruction, the fault was its own (counted once: the
        replay is taken back); if not, it was the translator's, and the block runs up to the
        page end."""
        probe, self._lookahead_probe = self._lookahead_probe, None
        pc = self._pc()
        cr2 = self.cpu.cr(2)
        if self._fetch_exit is not None:
            self._fetch_exit = None             # (a fault before the exit: a real one)
            self._sync_exits()
            return False
        if probe is not None and probe[:3] == (pc, cr2, error_code) \
                and self.icount - probe[3] in (0, 1):
            # (the replay: see _lookahead_replay)
            if self.icount != probe[3]:         # the instruction ran: its own fault
                self.icount -= 1
                self.clock.icount -= 1
                return False
            return self._run_to_page_end(pc)    # nothing ran: the translator's
        page_end = (pc | 0xFFF) + 1
        if cr2 >> 12 != page_end >> 12:
            return False                        # (not a fetch from the next page)
        try:
            bits = self.cpu.where()[3]
            code = self.mem.read_linear(pc, page_end - pc)
        except Exception:
            return False
        from debugger.disasm import disassemble

        first = next(iter(disassemble(code, pc, bits, count=1)), None)
        if first is None or first.mnemonic == "(bad)" or pc + first.size > page_end:
            return False                        # (it reaches the page itself: its own fault)
        # (replayed first thing, with the exits this run had)
        key = self._exits_key
        self._lookahead_probe = (pc, cr2, error_code, self.icount,
                                 key[1] if isinstance(key, tuple) else None)
        return True

    def _lookahead_replay(self) -> RunResult | None:
        """The same run again, from the state of the fault being told apart: before anything
        else (an IRQ, the end of the budget, a breakpoint), as the fault came first.  One
        instruction at most (its own fault, or the translator's before it)."""
        probe = self._lookahead_probe
        assert probe is not None
        self._sync_exits(without=probe[4])
        r = self._run_slice(self._pc(), 1)
        if self._lookahead_probe is probe:
            self._lookahead_probe = None        # (no fault this time: nothing to tell apart)
        self._sync_exits()
        return r

    def _run_to_page_end(self, pc: int) -> bool:
        """Nothing of the block at `pc` ran (the translator faulted reading the next page):
        run it again with an exit at its first instruction that reaches the next page, which
        then faults on its own fetch (a CPU's order).  False: no such instruction (the fault
        is the first instruction's own)."""
        page_end = (pc | 0xFFF) + 1
        try:
            bits = self.cpu.where()[3]
            code = self.mem.read_linear(pc, page_end - pc)
        except Exception:
            return False
        from debugger.disasm import disassemble

        victim = None
        for ins in disassemble(code, pc, bits, count=64):
            if ins.mnemonic == "(bad)" and page_end - ins.address < 15:
                victim = ins.address            # (cut at the page end: it goes on there)
                break
            if ins.mnemonic.startswith(("j", "call", "ret", "loop", "int", "iret", "sys",
                                        "hlt", "ljmp", "lcall", "(bad)")):
                return False                    # (the block ends there)
            if ins.address + ins.size >= page_end:
                victim = ins.address + ins.size if ins.address + ins.size == page_end \
                    else ins.address
                break
        if victim is None or victim == pc:
            return False                        # (the fault is the first instruction's own)
        self._fetch_exit = victim
        self._sync_exits()
        return True

    def _safe_pc(self) -> bool:
        try:
            self.mem.translate(self._pc())
            return True
        except Exception:
            return False

    def raise_exception(self, vector: int, error_code: int | None, *,
                        software: bool = False, external: bool = False,
                        int_rip: int | None = None) -> RunResult | None:
        """Deliver an exception/interrupt with the double- and triple-fault rules (a fault
        while delivering a software interrupt returns to the INT, at `int_rip`)."""
        self.mutations += 1
        name = VECTOR_NAMES.get(vector, f"INT {vector:02X}h")
        at = (self.cpu.seg("cs").selector, self.cpu.rip) if self.interrupt_listeners else None
        if not software and not external:
            self.events.emit("exception", f"{name} at {self._pc():#x}"
                             + (f" error code {error_code:#x}" if error_code is not None else ""),
                             vector=vector, error_code=error_code)
        chain = [vector]
        cur, ec, sw = vector, error_code, software
        for _ in range(3):
            try:
                self.delivery.deliver(cur, software=sw, error_code=ec, external=external)
                break
            except Unsupported as exc:
                return self._result(Stop.UNSUPPORTED, str(exc))
            except MemoryError_ as exc:
                return self._result(Stop.UNMAPPED, f"delivering {name}: {exc}")
            except GuestFault as f:
                if f.cr2 is not None:
                    self.eng.set_u64(uc_layout.OFF_CR + 16, f.cr2)
                if sw and int_rip is not None and not f.new_task:
                    self.cpu.rip = int_rip
                chain.append(f.vector)
                if cur == 8:
                    return self._triple_fault(chain)
                if promotes_to_double_fault(cur, f.vector):
                    chain.append(8)
                    cur, ec = 8, 0
                else:
                    cur, ec = f.vector, f.error_code
                sw = False
                self.events.emit("exception", f"{VECTOR_NAMES.get(cur, cur)} while delivering "
                                 f"{name}", vector=cur, error_code=ec)
        else:
            return self._triple_fault(chain)
        if self.cpu.activity is Activity.HLT:
            self.cpu.activity = Activity.ACTIVE
        kind = "int" if software else ("irq" if external else "exception")
        if at is not None:
            for fn in list(self.interrupt_listeners):
                fn(vector, kind, error_code, *at)
        stop = self._check_event_filter(kind, {"vector": vector, "error_code": error_code})
        if self.delivery.task_trap:
            # The new task's TSS has its T bit set: #DB (DR6.BT) before its first instruction.
            self.delivery.task_trap = False
            self.cpu.set_dr(6, self.cpu.dr(6) | DR6_BT)
            stop = self.raise_exception(1, None) or stop
        return stop

    def _triple_fault(self, chain: list[int]) -> RunResult:
        self.cpu.activity = Activity.SHUTDOWN
        names = " -> ".join(VECTOR_NAMES.get(v, f"vector {v:#x}") for v in chain)
        msg = f"triple fault ({names}) at {self._pc():#x}"
        self.events.emit("triple-fault", msg, chain=chain)
        return self._result(Stop.TRIPLE_FAULT, msg, chain=chain)

    def _deliver_irq(self) -> RunResult | None:
        pic = self.devices.pic
        if not self.cpu.eflags & RF_IF or self.cpu.inhibit_irq:
            return None
        if pic.pending_vector() is None:
            return None
        vector = pic.acknowledge()
        self.cpu.activity = Activity.ACTIVE
        return self.raise_exception(vector, None, external=True)

    def _wait_halted(self) -> RunResult | None:
        return wait_halted(self)

    def _result(self, reason: str, message: str, **details: Any) -> RunResult:
        return RunResult(reason, message, self.icount, details)
