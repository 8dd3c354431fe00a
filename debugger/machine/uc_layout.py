"""Where Unicorn 2.1.4 keeps the state its public API does not expose, and a self-test of it.

Unicorn hides the segment descriptor caches, hflags, the A20 mask, the last exception's error code
and its (never reset) nested-fault counter inside QEMU's `CPUX86State`.  We reach them through the
engine's live `env` pointer at fixed offsets, valid only for the pinned unicorn 2.1.4 wheel
(see shared/reference/unicorn-notes.md §2).  `open_engine()` verifies every offset at start-up by
writing known values through the public API and finding them in the live state; on a mismatch it
raises `LayoutError` rather than show a state the CPU is not in.

The engine is always opened as UC_MODE_64 with a pristine UC_MODE_16 context restored into it
("m64r"): UC_MODE_16 computes PC as selector*16 and truncates IP on resume.
"""
from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass

import unicorn
from unicorn import UC_ARCH_X86, UC_HOOK_CODE, UC_MODE_16, UC_MODE_64, Uc
from unicorn import x86_const as x

__all__ = ["LayoutError", "Engine", "open_engine", "SEG_ORDER",
           "OFF_REGS", "OFF_EIP", "OFF_EFLAGS", "OFF_HFLAGS", "OFF_SEGS", "OFF_LDT", "OFF_TR",
           "OFF_GDT", "OFF_IDT", "OFF_CR", "OFF_A20", "OFF_EFER", "OFF_ERROR_CODE",
           "OFF_IS_INT", "OFF_NEXT_EIP", "OFF_DR", "OFF_OLD_EXCEPTION", "OFF_SYSENTER_CS",
           "OFF_STAR", "OFF_TSC", "OFF_PAT", "ENV_SIZE", "OFF_CC_OP", "CC_OP_EFLAGS",
           "OFF_DF"]

UNICORN_VERSION = "2.1.4"

# CPUX86State offsets (unicorn-notes.md §2.1).
OFF_REGS = 0
OFF_EIP = 128
OFF_EFLAGS = 136
OFF_CC_OP = 168          # int32 cc_op (after cc_dst, cc_src, cc_src2); CC_OP_EFLAGS = 1
OFF_DF = 172             # int32 df: 1 (EFLAGS.DF=0) or -1 (DF=1)
CC_OP_EFLAGS = 1
OFF_HFLAGS = 176
OFF_HFLAGS2 = 180
OFF_SEGS = 184           # ES CS SS DS FS GS, 24 bytes each
OFF_LDT = 328
OFF_TR = 352
OFF_GDT = 376
OFF_IDT = 400
OFF_CR = 424             # cr[0..8], 8 bytes each
OFF_A20 = 496
OFF_EFER = 592
OFF_SYSENTER_CS = 4800   # then sysenter_esp @4808, sysenter_eip @4816
OFF_STAR = 4824          # then lstar @4840, cstar @4848, fmask @4856, kernelgsbase @4864
OFF_TSC = 4872
OFF_PAT = 5280
OFF_ERROR_CODE = 5384
OFF_IS_INT = 5388
OFF_NEXT_EIP = 5392
OFF_DR = 5400
OFF_FEATURES = 5632      # uint64 features[]: [0] CPUID.1:EDX, [1] CPUID.1:ECX (past the context)
OFF_OLD_EXCEPTION = 5496
ENV_SIZE = 5568

SEG_ORDER = ("es", "cs", "ss", "ds", "fs", "gs")

# uc_struct / CPUState private offsets.
_UC_CPU = 440
_CPU_ENV = 0x8A50
_CPU_HALTED = 0x8198
_UC_EMU_COUNTER = 1368   # uint64 emu_counter, followed by uint64 emu_count (the `count` limit)
_UC_EMU_COUNT = 1376
_UC_CODE_HOOKS = 1296    # int hooks_count[UC_HOOK_CODE_IDX] (the count hook included)
_UC_COUNT_HOOK = 1360    # uc_hook count_hook (non-zero while Unicorn's count hook exists)
_UC_STOP_REQUEST = 1389  # bool stop_request (set by uc_emu_stop)
_UC_SKIP_SYNC = 14898    # bool skip_sync_pc_on_exit (set by writing RIP; emu_start clears it)


class LayoutError(RuntimeError):
    """The unicorn build does not have the state layout bootdbg was verified against."""


@dataclass
class Engine:
    """A Unicorn engine with direct access to its CPU state."""

    uc: Uc
    env: int        # address of CPUX86State
    cpu: int        # address of CPUState
    uch: int        # address of uc_struct

    def __post_init__(self) -> None:
        # (live views of the words every slice reads or writes: made once, the engine stays put)
        self._halted = ctypes.c_int32.from_address(self.cpu + _CPU_HALTED)
        self._emu_counter = ctypes.c_uint64.from_address(self.uch + _UC_EMU_COUNTER)
        self._code_hooks = ctypes.c_int32.from_address(self.uch + _UC_CODE_HOOKS)
        self._count_hook = ctypes.c_uint64.from_address(self.uch + _UC_COUNT_HOOK)

    def read(self, off: int, size: int) -> bytes:
        return ctypes.string_at(self.env + off, size)

    def write(self, off: int, data: bytes) -> None:
        ctypes.memmove(self.env + off, data, len(data))

    def u32(self, off: int) -> int:
        return ctypes.c_uint32.from_address(self.env + off).value

    def i32(self, off: int) -> int:
        return ctypes.c_int32.from_address(self.env + off).value

    def u64(self, off: int) -> int:
        return ctypes.c_uint64.from_address(self.env + off).value

    def set_u32(self, off: int, v: int) -> None:
        ctypes.c_uint32.from_address(self.env + off).value = v & 0xFFFFFFFF

    def set_i32(self, off: int, v: int) -> None:
        ctypes.c_int32.from_address(self.env + off).value = v

    def set_u64(self, off: int, v: int) -> None:
        ctypes.c_uint64.from_address(self.env + off).value = v & 0xFFFFFFFFFFFFFFFF

    @property
    def halted(self) -> bool:
        return bool(self._halted.value)

    def clear_halted(self) -> None:
        self._halted.value = 0

    @property
    def emu_counter(self) -> int:
        """Instructions counted during the last emu_start (by Unicorn's `count` hook, or by a
        self-counting native code hook in its place)."""
        return self._emu_counter.value

    def code_hooks(self) -> int:
        """UC_HOOK_CODE hooks installed, not counting Unicorn's own count hook.  With exactly
        one, Unicorn calls it directly from the translated code (no dispatch helper)."""
        return self._code_hooks.value - (1 if self._count_hook.value else 0)


def _pristine_real_mode(uc: Uc) -> None:
    uc.context_restore(Uc(UC_ARCH_X86, UC_MODE_16).context_save())
    # Hardware resets GDTR/IDTR limits to 0xFFFF; Unicorn leaves 0 (real-mode IVT checks fail).
    uc.reg_write(x.UC_X86_REG_IDTR, (0, 0, 0xFFFF, 0))
    uc.reg_write(x.UC_X86_REG_GDTR, (0, 0, 0xFFFF, 0))


def open_engine() -> Engine:
    """Open an m64r engine and verify the private layout; raises LayoutError on a mismatch."""
    if unicorn.__version__ != UNICORN_VERSION:
        raise LayoutError(f"bootdbg needs unicorn {UNICORN_VERSION} (its private CPU-state layout "
                          f"is verified for that version); found {unicorn.__version__}")
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    _pristine_real_mode(uc)
    uch = uc._uch.value
    cpu = ctypes.c_void_p.from_address(uch + _UC_CPU).value
    if not cpu:
        raise LayoutError("unicorn engine has no CPU at the expected offset")
    eng = Engine(uc, cpu + _CPU_ENV, cpu, uch)
    _self_test(eng)
    _hide_rdrand(eng)
    return eng


_CPUID_1_ECX_RDRAND = 1 << 30
_CPUID_1_ECX_OSXSAVE = 1 << 27      # (CPUID sets it from CR4, not from the feature word)


def _cpuid_1(uc: Uc) -> tuple[int, int]:
    """(EDX, ECX) of CPUID leaf 1, executed."""
    uc.mem_map(0, 0x1000)
    try:
        uc.mem_write(0x100, b"\x0f\xa2\xf4")        # cpuid; hlt
        uc.reg_write(x.UC_X86_REG_RAX, 1)
        uc.reg_write(x.UC_X86_REG_RCX, 0)
        uc.emu_start(0x100, 0, 0, 10)
        return uc.reg_read(x.UC_X86_REG_RDX), uc.reg_read(x.UC_X86_REG_RCX)
    finally:
        uc.mem_unmap(0, 0x1000)


def _hide_rdrand(eng: Engine) -> None:
    """A CPU without RDRAND, as QEMU 7.2's default models (qemu32, qemu64): Unicorn's model
    offers it, and QEMU answers it from the host's random source, so a guest that uses it (the
    Linux decompressor seeds KASLR with it) ran differently each time -- instruction counts,
    recordings and replays with it.  Cleared in the CPUID feature word, which QEMU's translator
    also reads: RDRAND is then #UD, as on such a CPU."""
    uc = eng.uc
    edx, ecx = _cpuid_1(uc)
    words = (eng.u64(OFF_FEATURES), eng.u64(OFF_FEATURES + 8))
    if words != (edx, ecx & ~_CPUID_1_ECX_OSXSAVE):
        raise LayoutError(f"CPUID feature words not at env+{OFF_FEATURES}: CPUID.1 gave "
                          f"{edx:#x}/{ecx:#x}, found {words[0]:#x}/{words[1]:#x}")
    eng.set_u64(OFF_FEATURES + 8, words[1] & ~_CPUID_1_ECX_RDRAND)
    if _cpuid_1(uc)[1] & _CPUID_1_ECX_RDRAND:
        raise LayoutError("CPUID still reports RDRAND after clearing its feature bit")
    eng.clear_halted()
    _pristine_real_mode(uc)
    uc.ctl_flush_tb()


def _self_test(eng: Engine) -> None:
    uc = eng.uc
    blob = bytes(uc.context_save())[40:40 + ENV_SIZE]
    live = eng.read(0, ENV_SIZE)
    if blob[:5560] != live[:5560]:
        raise LayoutError("live CPU state does not match the context blob")
    checks = [
        (x.UC_X86_REG_RBX, 0x1122334455667788, OFF_REGS + 3 * 8, 8),
        (x.UC_X86_REG_R15, 0x0102030405060708, OFF_REGS + 15 * 8, 8),
        (x.UC_X86_REG_RIP, 0x7C00, OFF_EIP, 8),
        (x.UC_X86_REG_CR3, 0x5000, OFF_CR + 3 * 8, 8),
        (x.UC_X86_REG_CR2, 0xDEAD000, OFF_CR + 2 * 8, 8),
        (x.UC_X86_REG_DR7, 0x455, OFF_DR + 7 * 8, 8),
    ]
    for reg, val, off, size in checks:
        uc.reg_write(reg, val)
        got = int.from_bytes(eng.read(off, size), "little")
        if got != val:
            raise LayoutError(f"unicorn state layout mismatch at env+{off}: wrote {val:#x}, "
                              f"found {got:#x}")
        uc.reg_write(reg, 0)
    uc.reg_write(x.UC_X86_REG_EFLAGS, 0x402)
    if eng.i32(OFF_DF) != -1:
        raise LayoutError("EFLAGS.DF (env df) layout mismatch")
    uc.reg_write(x.UC_X86_REG_EFLAGS, 0x2)
    if eng.i32(OFF_DF) != 1:
        raise LayoutError("EFLAGS.DF (env df) layout mismatch")
    uc.reg_write(x.UC_X86_REG_GDTR, (0, 0x12340, 0x2F, 0))
    if struct.unpack_from("<QI", eng.read(OFF_GDT + 8, 12)) != (0x12340, 0x2F):
        raise LayoutError("GDTR layout mismatch")
    uc.reg_write(x.UC_X86_REG_GDTR, (0, 0, 0xFFFF, 0))
    uc.msr_write(0xC0000080, 0x100)
    if eng.u64(OFF_EFER) != 0x100:
        raise LayoutError("EFER layout mismatch")
    uc.msr_write(0xC0000080, 0)
    uc.msr_write(0x174, 0x1234)
    if eng.u64(OFF_SYSENTER_CS) != 0x1234:
        raise LayoutError("SYSENTER_CS layout mismatch")
    uc.msr_write(0x174, 0)
    uc.msr_write(0x277, 0x0106040601060406)
    if eng.u64(OFF_PAT) != 0x0106040601060406:
        raise LayoutError("PAT layout mismatch")
    uc.msr_write(0x277, 0x0007040600070406)
    if eng.i32(OFF_A20) != -1 or eng.i32(OFF_OLD_EXCEPTION) != -1:
        raise LayoutError("A20 mask / old_exception not at their reset values")
    cs = struct.unpack_from("<IxxxxQII", eng.read(OFF_SEGS + 24, 24))
    if cs != (0, 0, 0xFFFF, 0x9B00):
        raise LayoutError(f"CS cache layout mismatch: {cs}")
    # The instruction counter: run 3 instructions under a count limit.
    uc.mem_map(0, 0x1000)
    uc.mem_write(0x100, b"\x90\x90\xf4")
    uc.emu_start(0x100, 0, 0, 50)
    counted = eng.emu_counter
    limit = ctypes.c_uint64.from_address(eng.uch + _UC_EMU_COUNT).value
    uc.mem_unmap(0, 0x1000)
    if (counted, limit) != (3, 50) or not eng.halted:
        raise LayoutError(f"unicorn instruction counter not where expected ({counted}, {limit})")
    eng.clear_halted()
    # Code hooks counted (the count hook exists now), and the stop request flag.
    h = uc.hook_add(UC_HOOK_CODE, lambda *a: None)
    stop = ctypes.c_bool.from_address(eng.uch + _UC_STOP_REQUEST)
    hooks = eng.code_hooks()
    uc.hook_del(h)
    before = stop.value
    uc.emu_stop()
    if (hooks, eng.code_hooks(), before, stop.value) != (1, 0, False, True):
        raise LayoutError("unicorn hook counts / stop request not where expected")
    stop.value = False
    skip = ctypes.c_bool.from_address(eng.uch + _UC_SKIP_SYNC)
    before = skip.value
    uc.reg_write(x.UC_X86_REG_RIP, 0x100)
    if (before, skip.value) != (False, True):
        raise LayoutError("unicorn skip_sync_pc_on_exit not where expected")
    skip.value = False
    _pristine_real_mode(uc)
    uc.ctl_flush_tb()
