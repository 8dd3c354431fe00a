"""Port I/O and RDTSC seen from the machine's hooks: the I/O permission check, and placing an
instruction exactly inside a fast slice.

A fast slice (`blockcount.py`) counts whole translation blocks as they start, so inside a block
the count does not say which instruction is running.  An IN/OUT/RDTSC hook runs with EIP synced to
its instruction, so the instructions done before it are the blocks counted before the current one
plus the instructions of the current block before EIP -- found by decoding the block's bytes up to
EIP (cached by those bytes).  The device then sees the exact time, as under the count hook, and the
slice goes on instead of being run again with the count hook.  What cannot be placed (EIP not on an
instruction boundary of the block, or an access that must stop the run before the rest of the
block runs) is irregular, as before: the slice is run again exactly.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.cpustate import CR0_PE, RF_IF, RF_VM

if TYPE_CHECKING:
    from debugger.machine.port import MachinePort

__all__ = ["io_allowed", "InBlock", "FastIo"]

_CACHE_MAX = 4096


def io_allowed(m: "MachinePort", port: int, size: int) -> bool:
    """IOPL and the TSS I/O permission bitmap (Unicorn compiles these checks out)."""
    cpu = m.cpu
    if not cpu.cr(0) & CR0_PE:
        return True
    eflags = cpu.eflags
    if not eflags & RF_VM and cpu.hflags & 3 <= (eflags >> 12) & 3:
        return True
    _, base, limit, flags = cpu.seg_raw("tr")
    if (flags >> 8) & 0x7 not in (1, 3) or not (flags >> 8) & 8 or limit < 0x67:
        return False                    # no 32/64-bit TSS: no bitmap
    try:
        bitmap = base + m.mem.read_linear_u(base + 0x66, 2)
        first, last = (bitmap - base) + port // 8, (bitmap - base) + (port + size - 1) // 8
        if last + 1 > limit:            # the CPU reads two bytes
            return False
        bits = m.mem.read_linear_u(base + first, 2)
    except Exception:
        return False
    mask = ((1 << size) - 1) << (port % 8)
    return not bits & mask


class InBlock:
    """Where the running instruction is inside the block the block counter counted last."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int, bytes], int | None] = {}
        self._md: dict[int, object] = {}

    def before(self, m: "MachinePort") -> int | None:
        """Instructions of the current fast slice done before the one at EIP (None: cannot
        tell)."""
        b = m._blocks
        start, size = b.last_block
        _, _, pc, bits = m.cpu.where()
        if not start <= pc < start + size:
            return None
        idx = self.index(m, start, pc, bits)
        if idx is None or idx >= b.last:
            return None
        return b.done_before_last + idx

    def last_in_block(self, m: "MachinePort") -> bool:
        """Is the instruction at EIP the last one of its block?"""
        b = m._blocks
        start, _ = b.last_block
        _, _, pc, bits = m.cpu.where()
        idx = self.index(m, start, pc, bits)
        return idx is not None and idx == b.last - 1

    def index(self, m: "MachinePort", start: int, pc: int, bits: int) -> int | None:
        if pc == start:
            return 0
        try:
            code = m.mem.read_linear(start, pc - start)
        except Exception:
            return None
        key = (bits, 0, code)                  # (the bytes before EIP decide it)
        if key in self._cache:
            return self._cache[key]
        md = self._md.get(bits)
        if md is None:
            from capstone import CS_ARCH_X86, CS_MODE_16, CS_MODE_32, CS_MODE_64, Cs

            md = Cs(CS_ARCH_X86, {16: CS_MODE_16, 32: CS_MODE_32, 64: CS_MODE_64}[bits])
            self._md[bits] = md
        n = 0
        end = start
        for address, size, _mn, _op in md.disasm_lite(code, start):   # type: ignore[attr-defined]
            n += 1
            end = address + size
        idx = n if end == pc else None          # (EIP on an instruction boundary, or nothing)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[key] = idx
        return idx


class FastIo:
    """IN/OUT/RDTSC inside a fast slice, at their exact instruction count."""

    def __init__(self, m: "MachinePort") -> None:
        self.m = m
        self.inblock = InBlock()
        self.at = 0             # instructions of the slice before the current I/O instruction
        self.current: int | None = None     # ... while its hook runs (None: no I/O running)
        self.placed = 0         # statistics: I/O instructions handled inside fast slices
        self.decoded = 0        # ... of which placed by decoding the block here, not by C

    def enter(self) -> bool:
        """Place the instruction at EIP; False: it cannot be (the slice is run again)."""
        m = self.m
        if m.bus.watchers:
            return False        # (a watcher may stop after it: the exact path does that)
        at = m._hot.hint()      # (C placed it: this translation block was decoded before)
        if at < 0:
            self.decoded += 1
            n = self.inblock.before(m)
            if n is None:
                return False
            at = n + 1          # (as Unicorn's count hook: the instruction itself counted)
        self.at = self.current = at
        self.placed += 1
        return True

    def after_io(self) -> None:
        """What the exact path's `_after_io` does, where a fast slice can do it: a stop right
        after the instruction only when it ends its block (the engine stops at block ends)."""
        m = self.m
        self.current = None
        if m.bus.stop_requested or m._pending is not None:
            m._fast_refuse()
            return
        if m._external is not None and (m._external_at is None
                                        or m._external_at <= m._slice_base + self.at):
            self._stop_after()          # (a stop request: it must come right after)
            return
        deadline = m.bus.next_deadline()
        if deadline is not None and deadline < m._slice_until:
            # A device event moved before the end of the slice: the blocks stop before it.
            limit = deadline - m._clock_base
            if m._blocks.counted > limit:
                m._fast_refuse()        # (inside the block that is running)
                return
            m._blocks.limit = max(limit, 0)
            m._slice_until = deadline
        if m.devices.pic.pending_vector() is not None:
            if m.cpu.eflags & RF_IF:
                self._stop_after()      # deliverable now
            elif not m._irqwait.armed:
                # Waiting for IF, which only changes at block ends (STI, POPF and IRET end
                # their blocks): stopping at the end of this one is the same.
                m.uc.emu_stop()

    def _stop_after(self) -> None:
        m = self.m
        if self.inblock.last_in_block(m):
            m.uc.emu_stop()
        else:
            m._fast_refuse()
