"""ctypes bindings for the native full-trace hooks (`_fulltrace.c`), with an availability check.

`NativeEncoder` has the interface of `fulltrace.PyEncoder` (observe/add_write/rearm/start/take)
plus the two Unicorn hooks it installs on the machine's engine; the records are the same bytes.
"""
from __future__ import annotations

import ctypes
import mmap
from typing import Any

from debugger.machine import uc_layout as L
from debugger.trace import fulltrace as FT
from debugger.trace.ram import anonymous_memory

__all__ = ["available", "why_unavailable", "NativeEncoder"]

NS = FT.SLOT_COUNT
MAX_RANGES = 8
BUF_SIZE = 16 << 20
WBUF_SIZE = 4 << 20
MAX_MARKS = 4096
TABLE_BITS = 16
MAX_QUEUE = 4096
_BITS = {0: 16, 1: 32, 2: 64}



class _Ft(ctypes.Structure):
    _fields_ = [
        ("env", ctypes.c_void_p), ("counter", ctypes.c_void_p), ("emu_stop", ctypes.c_void_p),
        ("cc_compute", ctypes.c_void_p), ("stop_request", ctypes.c_void_p),
        ("uc", ctypes.c_void_p),
        ("base", ctypes.c_uint64), ("frontier", ctypes.c_uint64),
        ("tracking", ctypes.c_int32), ("resync_armed", ctypes.c_int32),
        ("activity", ctypes.c_int32), ("chunk_insns", ctypes.c_int32),
        ("lost", ctypes.c_uint64), ("gaps", ctypes.c_uint64),
        ("buf", ctypes.c_void_p), ("cap", ctypes.c_uint64), ("pos", ctypes.c_uint64),
        ("high", ctypes.c_uint64), ("chunk_records", ctypes.c_uint64),
        ("stops", ctypes.c_uint64),
        ("nmarks", ctypes.c_int32), ("max_marks", ctypes.c_int32),
        ("mark_off", ctypes.c_void_p), ("mark_icount", ctypes.c_void_p),
        ("mark_count", ctypes.c_void_p),
        ("wbuf", ctypes.c_void_p), ("wcap", ctypes.c_uint64), ("wpos", ctypes.c_uint64),
        ("wcount", ctypes.c_uint64), ("last_waddr", ctypes.c_uint64),
        ("slot_off", ctypes.c_int32 * NS), ("slot_size", ctypes.c_int32 * NS),
        ("slot_mask", ctypes.c_uint64 * NS),
        ("nranges", ctypes.c_int32), ("range_off", ctypes.c_int32 * MAX_RANGES),
        ("range_len", ctypes.c_int32 * MAX_RANGES),
        ("nhot", ctypes.c_int32), ("block_start", ctypes.c_int32),
        ("next_compare", ctypes.c_int32),
        ("classify_on", ctypes.c_int32), ("hot", ctypes.c_int32),
        ("table_full", ctypes.c_int32),
        ("keys", ctypes.c_void_p), ("vals", ctypes.c_void_p), ("table_bits", ctypes.c_uint32),
        ("nqueue", ctypes.c_int32), ("max_queue", ctypes.c_int32), ("queue", ctypes.c_void_p),
        ("code_lines", ctypes.c_void_p), ("volatile_lines", ctypes.c_void_p),
        ("phys_first", ctypes.c_void_p), ("phys_last", ctypes.c_void_p),
        ("cc_op_off", ctypes.c_int32), ("cc_df_off", ctypes.c_int32),
        ("eflags_off", ctypes.c_int32), ("hflags_off", ctypes.c_int32),
        ("shadow", ctypes.c_uint64 * NS), ("raw", ctypes.c_uint64 * 128),
        ("self_count", ctypes.c_int32), ("limit", ctypes.c_uint64),
        ("restarts", ctypes.c_void_p), ("restarts_seen", ctypes.c_int64),
        ("restarts_base", ctypes.c_int64),
        ("wpos_mark", ctypes.c_uint64), ("wcount_mark", ctypes.c_uint64),
        ("waddr_mark", ctypes.c_uint64), ("rom_ro", ctypes.c_void_p),
    ]


_P, _U64 = ctypes.c_void_p, ctypes.c_uint64
_ARGTYPES = (("bootdbg_ft_hostwrite", (_P, _U64, _P, _U64)),
             ("bootdbg_ft_boundary", (_P, _U64)), ("bootdbg_ft_start", (_P, _U64)),
             ("bootdbg_ft_rearm", (_P, _U64)), ("bootdbg_ft_drained", (_P,)),
             ("bootdbg_ft_mark", (_P, _U64, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_int,
                                  _U64, _U64)))


def _loaded() -> tuple[ctypes.CDLL | None, str]:
    from debugger.machine import nativelib

    return nativelib.load("debugger.trace._fulltrace", "bootdbg_ft_size", _Ft, _ARGTYPES)


def _address(m: mmap.mmap) -> int:
    return ctypes.addressof(ctypes.c_char.from_buffer(m))


def available() -> bool:
    return _loaded()[0] is not None


def why_unavailable() -> str:
    return _loaded()[1]


class NativeEncoder:
    def __init__(self, machine: Any, chunk_insns: int = FT.CHUNK_INSNS,
                 buf_size: int = BUF_SIZE) -> None:
        lib = _loaded()[0]
        assert lib is not None
        from unicorn import UC_HOOK_BLOCK, UC_HOOK_CODE, UC_HOOK_MEM_WRITE
        from unicorn.unicorn_py3.unicorn import uclib

        self.lib, self.m = lib, machine
        eng = machine.eng
        d = _Ft()
        d.env = eng.env
        d.counter = eng.uch + L._UC_EMU_COUNTER
        d.stop_request = eng.uch + L._UC_STOP_REQUEST
        d.emu_stop = ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value
        d.cc_compute = ctypes.cast(uclib.cpu_cc_compute_all_x86_64, ctypes.c_void_p).value
        d.uc = eng.uch
        # Re-runs of a store into its own block (the machine's block counter counts them).
        where = machine.restarts_address()
        self._restarts = (ctypes.c_int64.from_address(where) if where else ctypes.c_int64(0))
        d.restarts = ctypes.addressof(self._restarts)
        d.chunk_insns = chunk_insns
        # Room past the high mark (checked at block starts) for one block's records: at most 512
        # instructions of every slot, plus the pending writes.
        room = WBUF_SIZE + (1 << 20)
        # (anonymous memory: nothing to clear, and the room is only touched if it is used)
        self._buf = anonymous_memory(buf_size + room)
        self._wbuf = anonymous_memory(WBUF_SIZE)
        d.buf, d.cap = _address(self._buf), buf_size + room
        d.high = buf_size
        d.wbuf, d.wcap = _address(self._wbuf), WBUF_SIZE
        self._marks = [(ctypes.c_uint64 * MAX_MARKS)() for _ in range(3)]
        d.mark_off, d.mark_icount, d.mark_count = (ctypes.addressof(a) for a in self._marks)
        d.max_marks = MAX_MARKS
        for i, (_n, off, size, mask) in enumerate(FT.slot_table()):
            d.slot_off[i], d.slot_size[i], d.slot_mask[i] = off, size, mask
        d.nranges = len(FT.RANGES)
        for i, (off, n) in enumerate(FT.RANGES):
            d.range_off[i], d.range_len[i] = off, n
        d.nhot = FT.HOT_RANGES
        # Block classes: only blocks that can change a hot range mid-block compare it at every
        # instruction (the others at block starts, like the cold ranges).
        self._keys = (ctypes.c_uint64 * (1 << TABLE_BITS))()
        self._vals = (ctypes.c_uint8 * (1 << TABLE_BITS))()
        self._queue = (ctypes.c_uint64 * (2 * MAX_QUEUE))()
        d.keys, d.vals = ctypes.addressof(self._keys), ctypes.addressof(self._vals)
        d.table_bits = TABLE_BITS
        d.queue, d.max_queue = ctypes.addressof(self._queue), MAX_QUEUE
        self._phys = [(ctypes.c_uint64 * (1 << TABLE_BITS))() for _ in range(2)]
        d.phys_first, d.phys_last = (ctypes.addressof(a) for a in self._phys)
        # One mask of 64-byte lines per physical page (mod 2^20): anonymous memory, so only
        # the pages of it that code lives in are ever touched.
        self._lines = [anonymous_memory(8 << 20) for _ in range(2)]
        d.code_lines, d.volatile_lines = (_address(m) for m in self._lines)
        d.classify_on = 1
        d.cc_op_off, d.cc_df_off = FT.CC_OP_OFF, FT.CC_DF_OFF
        d.hflags_off = L.OFF_HFLAGS
        d.eflags_off = L.OFF_EFLAGS
        rom = getattr(machine, "rom", None)
        d.rom_ro = ctypes.addressof(rom.mask) if rom is not None else None
        self.d = d
        self._ref = ctypes.byref(d)
        ud = ctypes.cast(ctypes.pointer(d), ctypes.c_void_p)
        self._handles = []
        for kind, cb in ((UC_HOOK_BLOCK, lib.bootdbg_ft_block_cb),
                         (UC_HOOK_CODE, lib.bootdbg_ft_code_cb),
                         (UC_HOOK_MEM_WRITE, lib.bootdbg_ft_write_cb)):
            h = ctypes.c_size_t()
            err = uclib.uc_hook_add(machine.uc._uch, ctypes.byref(h), kind,
                                    ctypes.cast(cb, ctypes.c_void_p), ud,
                                    ctypes.c_uint64(1), ctypes.c_uint64(0))
            if err:
                self.remove()
                raise RuntimeError(f"cannot install the full-trace hooks (unicorn error {err})")
            self._handles.append(h)
        machine.uc.ctl_flush_tb()
        machine.self_counter = self

    # -- the PyEncoder interface --------------------------------------------------------------------
    @property
    def activity(self) -> int:
        return self.d.activity

    @activity.setter
    def activity(self, v: int) -> None:
        self.d.activity = v

    def set_base(self, icount: int) -> None:
        self.d.base = icount
        self.d.restarts_base = self._restarts.value     # (the machine counts them per run)

    # -- the machine's self-counting code hook (Machine.self_counter) -------------------------------
    def arm(self, limit: int) -> None:
        self.d.limit = limit
        self.d.self_count = 1

    def disarm(self) -> None:
        self.d.self_count = 0

    @property
    def limit_address(self) -> int:
        return ctypes.addressof(self.d) + _Ft.limit.offset

    def observe(self, done: int, in_exec: bool = False) -> None:
        assert not in_exec
        self.lib.bootdbg_ft_boundary(self._ref, done)

    def add_write(self, addr: int, data: bytes) -> None:
        self.lib.bootdbg_ft_hostwrite(self._ref, addr, data, len(data))

    def start(self, icount: int) -> None:
        self.lib.bootdbg_ft_start(self._ref, icount)

    def rearm(self, icount: int) -> None:
        self.lib.bootdbg_ft_rearm(self._ref, icount)

    @property
    def pending(self) -> int:
        return self.d.pos

    @property
    def chunk_records(self) -> int:
        return self.d.chunk_records

    @property
    def drain_at(self) -> int:
        return self.d.high

    @property
    def stops(self) -> int:
        return self.d.stops

    @property
    def lost(self) -> int:
        return self.d.lost

    @property
    def gaps(self) -> int:
        return self.d.gaps

    def classify_pending(self) -> None:
        """Decide the blocks seen for the first time (they were compared fully meanwhile)."""
        d = self.d
        if d.table_full:                  # (no room for a block seen the first time)
            self._forget_classes()
            d.nqueue = d.table_full = 0
            return
        n = d.nqueue
        if not n:
            return
        q = self._queue
        mem = self.m.mem
        for i in range(n):
            address, info = q[2 * i], q[2 * i + 1]
            size, bits = info >> 2, info & 3
            val = FT.block_class(mem.read_linear, address, size, _BITS[bits])
            try:
                first = mem.translate(address, fetch=True)
                last = mem.translate(address + max(size, 1) - 1, fetch=True)
            except Exception:         # (not readable now: it is compared at every instruction)
                val, first, last = FT.SUSPECT, 0, 0
            if not self.lib.bootdbg_ft_mark(self._ref, address, size, bits, val, first, last):
                self._forget_classes()                   # full: start again
                self.lib.bootdbg_ft_mark(self._ref, address, size, bits, val, first, last)
        d.nqueue = 0

    def _forget_classes(self) -> None:
        for arr in (self._keys, self._vals, *self._phys):
            ctypes.memset(arr, 0, ctypes.sizeof(arr))
        for m in self._lines:
            if hasattr(mmap, "MADV_DONTNEED") and hasattr(mmap, "MAP_PRIVATE"):
                m.madvise(mmap.MADV_DONTNEED)     # (private anonymous memory: zeros again)
            else:
                m.seek(0)
                m.write(bytes(len(m)))

    def take(self) -> tuple[bytes, list[tuple[int, int, int]]]:
        d = self.d
        # A view (the caller copies what it keeps before the engine runs again).
        data = memoryview((ctypes.c_char * d.pos).from_address(d.buf)).cast("B")
        off, ic, cnt = self._marks
        marks = [(off[i], ic[i], cnt[i]) for i in range(d.nmarks)]
        self.lib.bootdbg_ft_drained(self._ref)
        return data, marks

    def remove(self) -> None:
        from unicorn.unicorn_py3.unicorn import uclib

        if self.m.self_counter is self:
            self.m.self_counter = None
        for h in self._handles:      # (leaves the guest as it was: machine/untouched.py)
            uclib.uc_hook_del(self.m.uc._uch, h)
        self._handles = []
        self.m.uc.ctl_flush_tb()
