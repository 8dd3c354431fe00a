"""Exact instruction counts at block granularity: the machine's fast slices.

Unicorn's `count` limit is a C code hook on every instruction; it keeps `icount` exact but costs
more than the guest's own work in a tight loop.  A fast slice runs with no count hook: a native
block hook (`_blockcount.c`) adds each translation block's instruction count (QEMU's own
`TranslationBlock.icount`, read through the CPU's jump cache) and stops before a block that would
pass the slice's limit; the last few instructions then run with the count hook.  The counting
rules are the count hook's: a block of REP iterations is one block per iteration plus the final
check, `INT n` ends its block, HLT ends its block.

The machine uses a fast slice only where nothing needs a count inside a block (no Python hooks
but its own, nothing holding `exact_holds`), and treats everything a block count cannot place --
an I/O instruction, RDTSC, a fault in the middle of a block, a block the counter does not know --
as *irregular*: it restores the checkpoint taken at the start of the slice and runs the slice
again with the count hook, so the result is the exact run's, always.  Without the native module
there are no fast slices (same answers, count hook speed).

The jump cache's offset inside QEMU's CPUState is found once per process by running two blocks
in a scratch engine and looking where their TranslationBlock pointers appeared.
"""
from __future__ import annotations

import ctypes
import os
from functools import lru_cache
from typing import Any

from unicorn import (UC_HOOK_BLOCK, UC_HOOK_CODE, UC_HOOK_MEM_FETCH, UC_HOOK_MEM_READ,
                     UC_HOOK_MEM_READ_AFTER, UC_HOOK_MEM_WRITE)
from unicorn import unicorn_const as uconst

from debugger.machine import exactfix, nativelib
from debugger.machine import uc_layout as L

__all__ = ["BlockCounter", "available", "why_unavailable"]

_SEGS_CS_BASE = L.OFF_SEGS + 24 + 8       # segs[R_CS].base
# UC_CTL_READ_WRITE(UC_CTL_TB_REQUEST_CACHE, 2), as unicorn.h builds it
_REQUEST_CACHE = uconst.UC_CTL_TB_REQUEST_CACHE | (2 << 26) | (uconst.UC_CTL_IO_READ_WRITE << 30)
_CPU_SCAN = 0x8A50                        # CPUState ends where the X86CPU's env starts
_NO_PC = 2**64 - 1
# TranslationBlock fields (as _blockcount.c reads them)
_TB_PC, _TB_SIZE, _TB_CFLAGS, _CF_COUNT_MASK = 0, 20, 24, 0x7FFF


class _B(ctypes.Structure):
    _fields_ = [("cpu", ctypes.c_void_p), ("env", ctypes.c_void_p), ("emu_stop", ctypes.c_void_p),
                ("jmp_off", ctypes.c_int64), ("hflags_off", ctypes.c_int32),
                ("eflags_off", ctypes.c_int32), ("csbase_off", ctypes.c_int32),
                ("enabled", ctypes.c_int32), ("counter", ctypes.c_uint64),
                ("limit", ctypes.c_uint64), ("irregular", ctypes.c_int32),
                ("partial", ctypes.c_int32), ("blocks", ctypes.c_uint64),
                ("last", ctypes.c_uint64), ("uc_ctl", ctypes.c_void_p),
                ("request_cache", ctypes.c_int32), ("lookups", ctypes.c_int32),
                ("last_pc", ctypes.c_uint64), ("last_size", ctypes.c_uint64),
                ("count_limit", ctypes.c_void_p), ("restarts", ctypes.c_int64),
                ("skip_sync", ctypes.c_void_p), ("last_hflags", ctypes.c_uint32),
                ("pad", ctypes.c_uint32), ("special", ctypes.c_int32), ("checks", ctypes.c_int32),
                ("allow_pc", ctypes.c_uint64), ("special_pc", ctypes.c_uint64),
                ("special_size", ctypes.c_uint64), ("vmem_read", ctypes.c_void_p),
                ("stop_next", ctypes.c_int32), ("interrupted", ctypes.c_int32),
                # REP MOVS/STOS in place (_repstring.c)
                ("rep_on", ctypes.c_int32), ("rep_pad", ctypes.c_int32),
                ("hooks_count", ctypes.c_void_p), ("irq_armed", ctypes.c_void_p),
                ("ram", ctypes.c_void_p), ("ram_size", ctypes.c_uint64),
                ("tlb_host", ctypes.c_void_p), ("ram_addr", ctypes.c_void_p),
                ("invalidate", ctypes.c_void_p), ("rep_done", ctypes.c_uint64),
                ("rep_runs", ctypes.c_uint64), ("envoff", ctypes.c_int32 * 8),
                ("not_rep", ctypes.c_uint64 * 64),
                ("uc_emu_count", ctypes.c_void_p), ("uc_emu_counter", ctypes.c_void_p),
                ("extra_block_hooks", ctypes.c_int32), ("pad2", ctypes.c_int32),
                ("prev_pc", ctypes.c_uint64),
                # task switches (EXACT_TASK)
                ("ldt_off", ctypes.c_int32), ("gdt_off", ctypes.c_int32),
                ("tail_tb", ctypes.c_void_p * 64), ("tail", (ctypes.c_uint8 * 16) * 64),
                ("tail_n", ctypes.c_uint8 * 64), ("cr0_off", ctypes.c_int32),
                ("a20_off", ctypes.c_int32), ("tail_off", (ctypes.c_uint32 * 4) * 64),
                ("tail_seg", (ctypes.c_uint8 * 4) * 64), ("tail_k", ctypes.c_uint8 * 64),
                ("prepare", ctypes.c_void_p), ("journal", ctypes.c_void_p),
                ("prepared_runs", ctypes.c_uint64)]
# (`restarts` only grows: the re-runs of one run are the difference from its start.)


def _jmp_hash(pc: int) -> int:
    tmp = pc ^ (pc >> 6)
    return ((tmp >> 6) & (4096 - 64)) | (tmp & 63)


def _lib() -> ctypes.CDLL | None:
    return nativelib.load("debugger.machine._blockcount", "bootdbg_blockcount_size", _B)[0]


@lru_cache(maxsize=1)
def jmp_cache_offset() -> int | None:
    """Offset of `tb_jmp_cache` in CPUState, found by experiment (None: not found)."""
    try:
        eng = L.open_engine()
    except Exception:
        return None
    uc = eng.uc
    uc.mem_map(0, 0x10000)
    # 0x1000: nop; nop; jmp near 0x2000    0x2000: nop; hlt      (16-bit code)
    uc.mem_write(0x1000, b"\x90\x90\xe9" + (0x2000 - 0x1005).to_bytes(2, "little"))
    uc.mem_write(0x2000, b"\x90\xf4")
    before = ctypes.string_at(eng.cpu, _CPU_SCAN)
    try:
        uc.emu_start(0x1000, 0, 0, 0)
    except Exception:
        return None
    after = ctypes.string_at(eng.cpu, _CPU_SCAN)
    h1, h2 = _jmp_hash(0x1000), _jmp_hash(0x2000)
    for off in range(0, _CPU_SCAN - 8, 8):
        if before[off:off + 8] != bytes(8) or after[off:off + 8] == bytes(8):
            continue
        base = off - 8 * h1
        o2 = base + 8 * h2
        if base < 0 or o2 + 8 > _CPU_SCAN or before[o2:o2 + 8] != bytes(8):
            continue
        p1 = int.from_bytes(after[off:off + 8], "little")
        p2 = int.from_bytes(after[o2:o2 + 8], "little")
        if not p2:
            continue
        if (ctypes.c_uint64.from_address(p1).value == 0x1000
                and ctypes.c_uint16.from_address(p1 + 20).value == 5
                and ctypes.c_uint16.from_address(p1 + 22).value == 3
                and ctypes.c_uint64.from_address(p2).value == 0x2000
                and ctypes.c_uint16.from_address(p2 + 22).value == 2):
            return base
    return None


# uc_struct.hooks_count[]: one int per hook kind (uc_priv.h's uc_hook_idx order), the code hooks'
# count at uc_layout._UC_CODE_HOOKS (index 2); verified by `hooks_count_offset`.
_HOOK_IDX = {UC_HOOK_CODE: 2, UC_HOOK_BLOCK: 3, UC_HOOK_MEM_READ: 10, UC_HOOK_MEM_WRITE: 11,
             UC_HOOK_MEM_FETCH: 12, UC_HOOK_MEM_READ_AFTER: 13}


@lru_cache(maxsize=1)
def hooks_count_offset() -> int | None:
    """Offset of `hooks_count[0]` in uc_struct, checked by adding each hook kind the REP
    iterations look at to a scratch engine (None: the layout is not the one expected)."""
    try:
        eng = L.open_engine()
    except Exception:
        return None
    base = L._UC_CODE_HOOKS - 2 * 4

    def counts() -> list[int]:
        return [ctypes.c_int32.from_address(eng.uch + base + 4 * i).value for i in range(18)]

    from unicorn.unicorn_py3.unicorn import uclib

    noop = ctypes.CFUNCTYPE(None)(lambda: None)     # (never called: nothing runs)
    for kind, idx in _HOOK_IDX.items():
        before = counts()
        h = ctypes.c_size_t()
        if uclib.uc_hook_add(eng.uc._uch, ctypes.byref(h), kind, ctypes.cast(noop, ctypes.c_void_p),
                             None, ctypes.c_uint64(1), ctypes.c_uint64(0)):
            return None
        after = counts()
        if [a - b for a, b in zip(after, before)] != [1 if i == idx else 0 for i in range(18)]:
            return None
    return base


def available() -> bool:
    return _lib() is not None and jmp_cache_offset() is not None


def why_unavailable() -> str:
    why = nativelib.load("debugger.machine._blockcount", "bootdbg_blockcount_size", _B)[1]
    return why or "QEMU's block cache was not found in this unicorn build"


class BlockCounter:
    """The native block hook of one engine (install it before any other block hook)."""

    def __init__(self, eng: L.Engine) -> None:
        from unicorn.unicorn_py3.unicorn import uclib

        self.eng = eng
        lib = _lib()
        off = jmp_cache_offset() if lib is not None else None
        self.available = lib is not None and off is not None
        self._b = _B(eng.cpu, eng.env, ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value,
                     off or 0, L.OFF_HFLAGS, L.OFF_EFLAGS, _SEGS_CS_BASE, 0, 0, 0, 0, 0, 0, 0,
                     ctypes.cast(uclib.uc_ctl, ctypes.c_void_p).value,
                     _REQUEST_CACHE,
                     0, 0, 0, eng.uch + L._UC_EMU_COUNT, 0, eng.uch + L._UC_SKIP_SYNC,
                     0, 0, 0, exactfix.ALL, _NO_PC, 0, 0,
                     ctypes.cast(uclib.uc_vmem_read, ctypes.c_void_p).value)
        self._b.ldt_off, self._b.gdt_off = L.OFF_LDT, L.OFF_GDT
        self._handle: Any = None
        self._restarts_base = 0
        # Blocks re-run after a store into them are found in QEMU's jump cache (both hooks)
        self._watches = off is not None if lib is not None else jmp_cache_offset() is not None
        if self.available:
            h = ctypes.c_size_t()
            uclib.uc_hook_add(eng.uc._uch, ctypes.byref(h), UC_HOOK_BLOCK,
                              ctypes.cast(lib.bootdbg_blockcount_cb, ctypes.c_void_p),
                              ctypes.cast(ctypes.pointer(self._b), ctypes.c_void_p),
                              ctypes.c_uint64(1), ctypes.c_uint64(0))
            self._handle = h
        else:
            # Without the native hook, the runs are all counted: the same hint for the memory
            # and I/O hooks, from Python (see _blockcount.c, watch mode).
            # And the same stops before the blocks Unicorn runs differently from the CPU.
            skip = ctypes.c_bool.from_address(eng.uch + L._UC_SKIP_SYNC)
            b = self._b
            vread = uclib.uc_vmem_read
            cache = (ctypes.c_uint64 * 4096).from_address(eng.cpu + (jmp_cache_offset() or 0))
            at64, at16 = ctypes.c_uint64.from_address, ctypes.c_uint16.from_address
            at32 = ctypes.c_uint32.from_address

            def read(address: int, size: int) -> bytes:
                buf = ctypes.create_string_buffer(size)
                if vread(eng.uc._uch, ctypes.c_uint64(address), 4, buf, ctypes.c_size_t(size)):
                    raise ValueError("unreadable")
                return buf.raw

            def read_data(address: int, size: int) -> bytes:
                buf = ctypes.create_string_buffer(size)
                if vread(eng.uc._uch, ctypes.c_uint64(address), 1, buf, ctypes.c_size_t(size)):
                    raise ValueError("unreadable")
                return buf.raw

            def hint(uc: Any, address: int, size: int, _ud: Any) -> None:
                if b.stop_next:
                    b.interrupted = 1
                    uc.emu_stop()
                    return
                skip.value = True
                if b.enabled == 2:
                    # (watch mode: the storing instruction run again alone, see _blockcount.c)
                    h = address ^ (address >> 6)
                    tb = cache[((h >> 6) & 4032) | (h & 63)]
                    if tb and at32(tb + _TB_CFLAGS).value & _CF_COUNT_MASK \
                            and at64(tb + _TB_PC).value == address \
                            and at16(tb + _TB_SIZE).value == size:
                        at64(b.count_limit).value += 1
                        b.restarts += 1
                        return
                if address == b.allow_pc:
                    b.allow_pc = _NO_PC
                    return
                why = exactfix.special(eng, address, size, read, read_data) & b.checks
                if why:
                    b.special, b.special_pc, b.special_size = why, address, size
                    uc.emu_stop()
            eng.uc.hook_add(UC_HOOK_BLOCK, hint)

    def set_ram(self, address: int, size: int) -> None:
        """The guest RAM is the host buffer at `address` (physical 0..size): the native hook
        reads code and descriptors there while paging is off."""
        self._b.ram, self._b.ram_size = address, size
        self._b.cr0_off, self._b.a20_off = L.OFF_CR, L.OFF_A20

    def enable_rep(self, ram: int, ram_size: int, irq_armed: int,
                   journal: tuple[int, int] | None = None) -> bool:
        """Do the iterations of REP MOVS/STOS in place where nothing needs to see them
        (`_repstring.c`); `ram`: the host address of guest physical 0 (RAM one host buffer);
        `irq_armed`: the IF watcher's `armed` int32; `journal`: the page journal's prepare
        function and journal (`pagejournal.Journal.prepare_hook`), to open the pages a copy
        writes in runs instead of one fault each.  False: not available here."""
        from unicorn.unicorn_py3.unicorn import uclib

        off = hooks_count_offset()
        if not self.available or off is None or os.environ.get("BOOTDBG_NO_REP_STRING"):
            return False
        try:
            fns = [ctypes.cast(getattr(uclib, name), ctypes.c_void_p).value
                   for name in ("tlb_vaddr_to_host_x86_64", "qemu_ram_addr_from_host_x86_64",
                                "tb_invalidate_phys_range_x86_64")]
        except AttributeError:
            return False
        b = self._b
        b.hooks_count = self.eng.uch + off
        b.irq_armed = irq_armed
        b.ram, b.ram_size = ram, ram_size
        b.tlb_host, b.ram_addr, b.invalidate = fns
        if journal is not None and not os.environ.get("BOOTDBG_NO_REP_PREPARE"):
            b.prepare, b.journal = journal
        for i, v in enumerate((L.OFF_DF, L.OFF_SEGS, L.OFF_CR, L.OFF_A20, L.OFF_EFER,
                               L.OFF_DR + 7 * 8)):
            b.envoff[i] = v
        b.uc_emu_count = self.eng.uch + L._UC_EMU_COUNT
        b.uc_emu_counter = self.eng.uch + L._UC_EMU_COUNTER
        b.prev_pc = _NO_PC
        b.rep_on = 1
        return True

    def quiet_block_hook(self, delta: int) -> None:
        """A block hook that sees nothing in the re-entries of a REP block (the transition
        detector: REP MOVS/STOS changes no state it watches) was installed (+1) or removed
        (-1): runs counted by Unicorn's hook may still do those iterations in place."""
        self._b.extra_block_hooks += delta

    @property
    def rep_iterations(self) -> int:
        """REP MOVS/STOS iterations done in place so far (statistics)."""
        return int(self._b.rep_done)

    def start(self, limit: int) -> None:
        b = self._b
        b.counter = 0
        b.limit = 0 if b.stop_next else limit
        b.irregular = 0
        b.partial = 0
        b.blocks = 0
        b.last = 0
        b.enabled = 1

    def watch_restarts(self, count_limit: int | None = None) -> None:
        """For a run under an instruction count hook: notice blocks QEMU re-runs after a store
        into the running block (see `_blockcount.c`).  `count_limit`: the address of the limit
        that hook stops at (default: Unicorn's count hook's)."""
        if self._watches:
            self._restarts_base = self._b.restarts
            self._b.count_limit = count_limit or self.eng.uch + L._UC_EMU_COUNT
            self._b.prev_pc = _NO_PC        # (in place only from a block's second entry on)
            self._b.enabled = 2

    @property
    def restarts_address(self) -> int | None:
        """Where re-runs are counted, as an int64 that only grows (for a native hook)."""
        return ctypes.addressof(self._b) + _B.restarts.offset if self.available else None

    def restarts(self) -> int:
        """Re-runs seen since `watch_restarts` (each counted once too often), and stop."""
        b = self._b
        if b.enabled == 2:
            b.enabled = 0
        return int(b.restarts) - self._restarts_base if self._watches else 0

    def stop(self, *, last_not_run: bool = False) -> tuple[int, int, bool]:
        """(instructions counted, irregular code, stopped before a block at the limit).

        `last_not_run`: a block hook installed after this one stopped the engine at the start
        of the last block counted (the interrupt-enable watcher), so it did not run."""
        b = self._b
        b.enabled = 0
        # (an interrupt request stopped before a block not counted: the last one counted ran)
        n = b.counter - (b.last if last_not_run and b.blocks and not b.interrupted else 0)
        return n, b.irregular, bool(b.partial)

    @property
    def last(self) -> int:
        """Instructions of the last block counted (the one a stop inside a block was in)."""
        return self._b.last

    @property
    def last_bits(self) -> int:
        """The code size the last block counted ran in."""
        hf = self._b.last_hflags
        return 64 if hf & (1 << 15) else 32 if hf & (1 << 4) else 16

    def exit_counted(self, code: bytes, bits: int | None = None) -> bool:
        """Did the last block counted end in the pseudo-instruction Unicorn translates at an
        exit address (a breakpoint reached inside a block)?  It is in the block's count but is
        not an instruction.  `code`: the block's bytes; decoded in the block's own code size
        (a far jump at its end may have changed the CPU's: `bits` is not used for that)."""
        from capstone import CS_ARCH_X86, CS_MODE_16, CS_MODE_32, CS_MODE_64, Cs

        b = self._b
        bits = self.last_bits
        if not b.blocks:
            return False
        md = Cs(CS_ARCH_X86, {16: CS_MODE_16, 32: CS_MODE_32, 64: CS_MODE_64}[bits])
        real = sum(1 for _ in md.disasm_lite(code, b.last_pc))
        return real == b.last - 1

    @property
    def limit(self) -> int:
        """The slice's limit (lowered while it runs when a device event moves before it)."""
        return int(self._b.limit)

    @limit.setter
    def limit(self, value: int) -> None:
        self._b.limit = value

    @property
    def counted(self) -> int:
        return int(self._b.counter)

    @property
    def done_before_last(self) -> int:
        """Instructions of the blocks counted before the last one."""
        return self._b.counter - self._b.last

    @property
    def last_block(self) -> tuple[int, int]:
        return self._b.last_pc, self._b.last_size

    @property
    def counting(self) -> bool:
        return self._b.enabled == 1

    def stop_next(self, on: bool = True) -> None:
        """Stop the engine before the next block it enters (and every one after, until called
        with False): an instruction boundary with the exact count, whatever hook the request
        comes from (a signal handler runs inside Python hooks) or whichever thread."""
        b = self._b
        b.interrupted = 0
        b.stop_next = int(on)
        if on:
            b.limit = 0         # (counting by blocks: stop before the next one, as at a limit)

    def take_special(self) -> tuple[int, int, int] | None:
        """(why, address, size) of the block the last run stopped before because Unicorn would
        run it differently from the CPU (`exactfix`), once; None: no such stop."""
        b = self._b
        if not b.special:
            return None
        why, b.special = int(b.special), 0
        return why, int(b.special_pc), int(b.special_size)

    def allow(self, address: int | None) -> None:
        """Let the block at `address` run once without the `exactfix` checks (None: none)."""
        self._b.allow_pc = _NO_PC if address is None else address

    @property
    def checks(self) -> int:
        return int(self._b.checks)

    @checks.setter
    def checks(self, value: int) -> None:
        self._b.checks = value

    def mark_irregular(self, code: int) -> None:
        self._b.irregular = code
