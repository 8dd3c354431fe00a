"""Port I/O to the hot ports answered natively, inside Unicorn's run loop (`_hotports.c`).

Boot loaders calibrate their TSC by polling the 8254: GRUB and memtest86+ read port 61h (OUT2)
every third instruction for ~55 ms of virtual time, iPXE and Linux do the same or read counter 2
back to back.  Through the Python IN/OUT hooks each access cost tens of microseconds; the native
hook answers IN 40h-43h and 61h and OUT 43h counter latch / read-back commands in C, and hands
every other access to the Python hooks (`traps.py`) exactly as before.

The Python PIT (`devices/pit.py`) stays the owner of the device state.  At the first hot
access of a run (armed by `arm` before each emu_start) its state is copied into the C struct
with the slice's clock base; after the run (`disarm`) -- and before any Python I/O hook runs
while armed -- what C changed (latches, status bytes, the LSB/MSB read flip-flop) is copied
back.  Both sides compute the same integers: virtual time is the clock's icount times
ns_per_insn, the icount taken as the Python hooks take it (Unicorn's instruction counter under
the count hook; in a fast slice, the blocks counted before the current one plus the
instruction's index in its block: 0 at the block's start, elsewhere the index
`portio.InBlock` found by decoding the block the first time, kept by C per QEMU translation
block until QEMU's next full flush of translated code).  C declines, and Python decides, whenever the
machine could do more than answer: a watcher on the bus, a vector pending at the PIC, a stop
already requested, an access the I/O permission bitmap decides, a 16/32-bit access, a port some
other device (a plugin's) took over.

RDTSC is answered here too (`bootdbg_hotports_rdtsc`): the TSC is the clock's virtual ns times
2 (`devices/tsc.py`), at the instruction count placed as for an IN; memtest86+ runs 181,000 of
them on its way to its screen, through the Python hook about half of its time.  An I/O watcher
(a fast slice cannot place the instruction then) or a place C does not know goes to the Python
hook (`traps.py`), as before.

Without the native module (or with `BOOTDBG_NO_NATIVE=1`) the Python hooks are installed as
before: the same answers, slower.  `BOOTDBG_NO_HOTPORTS=1` turns off only this path.
"""
from __future__ import annotations

import ctypes
import os
import struct
from typing import TYPE_CHECKING, Any

from unicorn import UC_HOOK_INSN
from unicorn import x86_const as x

from debugger.machine import nativelib
from debugger.machine import uc_layout as L
from debugger.machine.devices.pit import REFRESH_NS, Pit
from debugger.machine.devices.tsc import TSC_HZ
from debugger.machine.devices.uart import IER_THRE, LSR_DR, LSR_TEMT, LSR_THRE, MCR_LOOP, Uart

if TYPE_CHECKING:
    from debugger.machine.port import MachinePort

__all__ = ["HotPorts", "attach", "available", "why_unavailable"]

IN_PORTS = (0x40, 0x41, 0x42, 0x43, 0x61)      # bit i of in_mask (61h: bit 4)
_CH_FMT = "8i2q6i"
_ARMED_FMT = "<6i3q" + _CH_FMT * 3              # armed ... ch[2], in one pack


class _Ch(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int32) for n in ("mode", "rw", "bcd", "count", "loaded", "running",
                                              "triggered", "null_count")] + [
        ("origin_ns", ctypes.c_int64), ("held_ns", ctypes.c_int64)] + [
        (n, ctypes.c_int32) for n in ("latch_len", "latch0", "latch1", "status", "read_msb",
                                      "pad")]


class _Entry(ctypes.Structure):
    _fields_ = [("tb", ctypes.c_void_p), ("pc", ctypes.c_uint64), ("flush", ctypes.c_uint32),
                ("idx", ctypes.c_int32)]


class _H(ctypes.Structure):
    _fields_ = [("env", ctypes.c_void_p), ("uch", ctypes.c_void_p),
                ("py_in", ctypes.c_void_p), ("py_out", ctypes.c_void_p),
                ("bc_enabled", ctypes.c_void_p), ("bc_counter", ctypes.c_void_p),
                ("bc_last", ctypes.c_void_p), ("bc_last_pc", ctypes.c_void_p),
                ("bc_last_size", ctypes.c_void_p)] + [
        (n, ctypes.c_int64) for n in ("off_eip", "off_eflags", "off_hflags", "off_csbase",
                                      "off_cr0", "off_stop", "off_counter")] + [
        (n, ctypes.c_int32) for n in ("armed", "pic_pending", "in_mask", "out_mask", "dirty",
                                      "port61")] + [
        ("clock_base", ctypes.c_int64), ("ns_per_insn", ctypes.c_int64),
        ("refresh_ns", ctypes.c_int64), ("ch", _Ch * 3),
        ("handled", ctypes.c_uint64), ("placed", ctypes.c_uint64),
        ("cpu", ctypes.c_void_p), ("jmp_off", ctypes.c_int64), ("flush_count", ctypes.c_void_p),
        ("py_export", ctypes.c_void_p),
        ("learn_tb", ctypes.c_void_p), ("learn_pc", ctypes.c_uint64),
        ("learn_idx", ctypes.c_int64), ("cache", _Entry * 256), ("hint", ctypes.c_int64),
        ("py_rdtsc", ctypes.c_void_p), ("off_regs", ctypes.c_int64), ("tsc_mult", ctypes.c_int64),
        ("tsc_ok", ctypes.c_int32), ("pad2", ctypes.c_int32), ("tsc_handled", ctypes.c_uint64),
        ("uart_base", ctypes.c_int32), ("uart_lsr", ctypes.c_int32), ("uart_tx", ctypes.c_int32),
        ("tx_len", ctypes.c_int32), ("tx", ctypes.c_uint8 * 256), ("uart_handled", ctypes.c_uint64)]


assert struct.calcsize(_ARMED_FMT) == _H.handled.offset - _H.armed.offset

_IN_CB = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                          ctypes.c_void_p)
_OUT_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                           ctypes.c_uint32, ctypes.c_void_p)
_EXPORT_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_RDTSC_CB = ctypes.CFUNCTYPE(ctypes.c_uint32, ctypes.c_void_p, ctypes.c_void_p)


def _hook_rdtsc(uc: Any, cb: Any, user_data: int | None) -> ctypes.c_size_t:
    """RDTSC's hook (the Python binding has no RDTSC callback type: added through uclib)."""
    from unicorn.unicorn_py3.unicorn import uclib

    h = ctypes.c_size_t()
    err = uclib.uc_hook_add(uc._uch, ctypes.byref(h), UC_HOOK_INSN, ctypes.cast(cb, ctypes.c_void_p),
                            user_data, ctypes.c_uint64(1), ctypes.c_uint64(0),
                            ctypes.c_int(x.UC_X86_INS_RDTSC))
    if err != 0:
        raise L.LayoutError(f"cannot hook RDTSC (unicorn error {err})")
    return h


_UC_TCG_CTX = 768           # uc_struct: the TCGContext pointer ...
_TCG_FLUSH_COUNT = 39120    # ... and tb_ctx.tb_flush_count in it (unicorn 2.1.4; checked below)


def _flush_counter(uc: Any, uch: int) -> int | None:
    """Address of QEMU's count of full flushes of translated code, if a flush moves it by one
    (None: not where unicorn 2.1.4 keeps it; the in-block cache is then not used)."""
    tcg = ctypes.c_void_p.from_address(uch + _UC_TCG_CTX).value
    if not tcg:
        return None
    addr = tcg + _TCG_FLUSH_COUNT
    before = ctypes.c_uint32.from_address(addr).value
    uc.ctl_flush_tb()
    after = ctypes.c_uint32.from_address(addr).value
    uc.ctl_flush_tb()
    again = ctypes.c_uint32.from_address(addr).value
    return addr if (after, again) == ((before + 1) & 0xFFFFFFFF, (before + 2) & 0xFFFFFFFF) \
        else None


def _lib() -> ctypes.CDLL | None:
    if os.environ.get("BOOTDBG_NO_HOTPORTS"):
        return None
    return nativelib.load("debugger.machine._hotports", "bootdbg_hotports_size", _H)[0]


def available() -> bool:
    return _lib() is not None


def why_unavailable() -> str:
    if os.environ.get("BOOTDBG_NO_HOTPORTS"):
        return "disabled by BOOTDBG_NO_HOTPORTS"
    return nativelib.load("debugger.machine._hotports", "bootdbg_hotports_size", _H)[1] \
        or "not built"


class HotPorts:
    """The machine's IN/OUT hooks: native for the hot ports, Python (`m._hook_in/_hook_out`)
    for the rest.  `native` False: only the Python hooks (the fallback)."""

    def __init__(self, m: Any, lib: ctypes.CDLL | None) -> None:
        self.m = m
        self.native = lib is not None
        self.armed = False
        if not self.native:
            uc = m.uc
            self._hooks = [
                uc.hook_add(UC_HOOK_INSN, m._hook_in, None, 1, 0, x.UC_X86_INS_IN),
                uc.hook_add(UC_HOOK_INSN, m._hook_out, None, 1, 0, x.UC_X86_INS_OUT)]
            self._rdtsc_cb = _RDTSC_CB(m._hook_rdtsc)
            self._rdtsc_hook = _hook_rdtsc(uc, self._rdtsc_cb, None)
            return
        from unicorn.unicorn_py3.unicorn import uccallback, uclib

        uc = m.uc
        self._in_cb = uccallback(uc, _IN_CB)(self._py_in)
        self._out_cb = uccallback(uc, _OUT_CB)(self._py_out)
        self._export_cb = uccallback(uc, _EXPORT_CB)(self._py_export)
        self._rdtsc_py = _RDTSC_CB(self._py_rdtsc)
        bb = m._blocks._b
        base = ctypes.addressof(bb)
        self._zero = ctypes.c_int32(0)          # (no block counter: never a fast slice)
        enabled = base + type(bb).enabled.offset if m._blocks.available \
            else ctypes.addressof(self._zero)
        eng = m.eng
        h = self._h = _H()
        h.env, h.uch = eng.env, eng.uch
        h.py_in = ctypes.cast(self._in_cb, ctypes.c_void_p).value
        h.py_out = ctypes.cast(self._out_cb, ctypes.c_void_p).value
        h.py_export = ctypes.cast(self._export_cb, ctypes.c_void_p).value
        h.bc_enabled = enabled
        h.bc_counter = base + type(bb).counter.offset
        h.bc_last = base + type(bb).last.offset
        h.bc_last_pc = base + type(bb).last_pc.offset
        h.bc_last_size = base + type(bb).last_size.offset
        h.off_eip, h.off_eflags, h.off_hflags = L.OFF_EIP, L.OFF_EFLAGS, L.OFF_HFLAGS
        h.off_csbase = L.OFF_SEGS + 24 + 8
        h.off_cr0 = L.OFF_CR
        h.off_stop, h.off_counter = L._UC_STOP_REQUEST, L._UC_EMU_COUNTER
        h.refresh_ns = REFRESH_NS
        h.hint = -1
        com1 = getattr(m.devices, "com1", None)
        h.uart_base = com1.base if type(com1) is Uart else -1
        h.py_rdtsc = ctypes.cast(self._rdtsc_py, ctypes.c_void_p).value
        h.off_regs, h.tsc_mult = L.OFF_REGS, TSC_HZ // 1_000_000_000
        from debugger.machine.blockcount import jmp_cache_offset

        self._no_flush = ctypes.c_uint32(0)
        flush = _flush_counter(uc, eng.uch) if m._blocks.available else None
        h.cpu = eng.cpu
        h.jmp_off = (jmp_cache_offset() or 0) if flush is not None else 0
        h.flush_count = flush if flush is not None else ctypes.addressof(self._no_flush)
        self._view = memoryview(ctypes.cast(ctypes.pointer(h), ctypes.POINTER(
            ctypes.c_char * ctypes.sizeof(h))).contents).cast("B")
        self._armed_off = _H.armed.offset
        self._ch_off = _H.ch.offset
        self._handles = []
        for insn, cb in ((x.UC_X86_INS_IN, lib.bootdbg_hotports_in),
                         (x.UC_X86_INS_OUT, lib.bootdbg_hotports_out)):
            hh = ctypes.c_size_t()
            err = uclib.uc_hook_add(uc._uch, ctypes.byref(hh), UC_HOOK_INSN,
                                    ctypes.cast(cb, ctypes.c_void_p),
                                    ctypes.cast(ctypes.pointer(h), ctypes.c_void_p),
                                    ctypes.c_uint64(1), ctypes.c_uint64(0), ctypes.c_int(insn))
            if err != 0:
                raise L.LayoutError(f"cannot hook IN/OUT (unicorn error {err})")
            self._handles.append(hh)
        self._handles.append(_hook_rdtsc(uc, lib.bootdbg_hotports_rdtsc,
                                         ctypes.cast(ctypes.pointer(h), ctypes.c_void_p)))

    # -- statistics ----------------------------------------------------------------------------
    @property
    def handled(self) -> int:
        """Accesses answered natively (0 without the native path)."""
        return int(self._h.handled) if self.native else 0

    @property
    def placed(self) -> int:
        """... of which inside fast slices."""
        return int(self._h.placed) if self.native else 0

    @property
    def tsc_handled(self) -> int:
        """RDTSCs answered natively (0 without the native path)."""
        return int(self._h.tsc_handled) if self.native else 0

    @property
    def uart_handled(self) -> int:
        """COM1 LSR reads and THR writes answered natively (0 without the native path)."""
        return int(self._h.uart_handled) if self.native else 0

    def hint(self) -> int:
        """Inside an IN/OUT hook the C side handed to Python in a fast slice: the slice's
        instructions up to and including this one, where C knows it from an earlier decoding of
        the same translation block (-1: decode; `portio.FastIo.enter`)."""
        return self._h.hint if self.native else -1

    # -- the state, in and out -----------------------------------------------------------------
    def arm(self) -> None:
        """Before an emu_start: the C side may answer in this run.  The PIT's state and the
        slice's clock are copied in at its first access (`_py_export`): a run that does no I/O
        (a single step) does not pay for it."""
        if not self.native:
            return
        if self.armed:                  # (a run ended without disarm: take its changes first)
            self.disarm()
        self._h.armed = 2
        self._h.tsc_ok = 0
        self.armed = True

    def _py_export(self, _uc: Any) -> None:
        self._h.armed = 0               # (if it raises: the binding stops the run, C declines)
        self._export()

    def _export(self) -> None:
        m = self.m
        bus = m.bus
        pit = m.devices.pit
        ok = not bus.watchers and type(pit) is Pit
        in_mask = out_mask = 0
        if ok:
            dev = bus.device_at
            for i, p in enumerate(IN_PORTS):
                if dev(p) is pit:
                    in_mask |= 1 << i
            if in_mask & 8:
                out_mask = 8
        uart = self._export_uart()
        pending = m.devices.pic.pending_vector() is not None
        vals: list[int] = [int(in_mask != 0 or uart), pending and 1 + m._irqwait.armed,
                           in_mask, out_mask, 0, pit.port61 & 0xFF,
                           m._clock_base, m.clock.ns_per_insn, REFRESH_NS]
        for c in pit.channels:
            latch = c.latch
            st = c.status
            vals += (c.mode, c.rw, int(c.bcd), c.count, int(c.loaded), int(c.running),
                     int(c.triggered), int(c.null_count), c.origin_ns, c.held_ns,
                     len(latch), latch[0] if latch else 0, latch[1] if len(latch) > 1 else 0,
                     -1 if st is None else st, int(c.read_msb), 0)
        struct.pack_into(_ARMED_FMT, self._view, self._armed_off, *vals)
        self._h.tsc_ok = int(not bus.watchers)

    def _export_uart(self) -> bool:
        """COM1's part of the export: may C answer its LSR reads, keep its THR writes?"""
        h = self._h
        h.uart_lsr, h.uart_tx = -1, 0
        if h.uart_base < 0:
            return False
        m = self.m
        u = m.devices.com1
        dev = m.bus.device_at
        if m.bus.watchers or dev(h.uart_base) is not u or dev(h.uart_base + 5) is not u:
            return False
        if not u.line_errors:           # (a read clears them: Python's)
            h.uart_lsr = (LSR_DR if u.rx else 0) | LSR_THRE | LSR_TEMT
        # Nobody sees the bytes as they go (`on_serial` may stop the run right after one, a
        # plugin's hook may read them): only then may they wait for the end of the run.
        h.uart_tx = int(not u.lcr & 0x80 and not u.mcr & MCR_LOOP and not u.ier & IER_THRE
                        and u.on_tx == m._serial_tx and m.on_serial is None
                        and len(m.uc._callbacks) == m._own_hooks)
        return True

    def _import_tx(self) -> None:
        """The bytes C kept, sent through the Python UART as the THR writes they were."""
        h = self._h
        data = bytes(h.tx[:h.tx_len])
        h.tx_len = 0
        self.m.devices.com1.transmitted(data)
        self.m._device_epoch += 1

    def _import(self) -> None:
        """What the C side changed, back into the Python PIT."""
        h = self._h
        h.dirty = 0
        pit = self.m.devices.pit
        for c, s in zip(pit.channels, h.ch):
            c.latch = [s.latch0, s.latch1][:s.latch_len]
            c.status = None if s.status < 0 else s.status
            c.read_msb = bool(s.read_msb)
        self.m._device_epoch += 1       # (checkpoints share device states by this key)

    def disarm(self) -> None:
        """After an emu_start: the C side's changes back into the PIT; C answers nothing more."""
        if not self.armed:
            return
        self.armed = False
        h = self._h
        h.armed = h.tsc_ok = 0
        self._take_changes()

    def _take_changes(self) -> None:
        """What C did since the state was copied in, into the Python devices."""
        h = self._h
        if h.dirty:
            self._import()
        if h.tx_len:
            self._import_tx()

    # -- the Python hooks, called by the C ones for what they do not answer --------------------
    def _py_in(self, uc: Any, port: int, size: int, _ud: Any) -> int:
        h = self._h
        self._take_changes()
        m = self.m
        placed = m._fast.placed
        value = m._hook_in(uc, port, size, None)
        if m._fast.placed != placed:
            h.learn_idx = m._fast.at - 1 - m._blocks.done_before_last
        if self.armed and h.armed != 2:
            h.armed = 2                 # (Python may have changed the PIT, the PIC, watchers)
        return value & 0xFFFFFFFF

    def _py_out(self, uc: Any, port: int, size: int, value: int, _ud: Any) -> None:
        h = self._h
        self._take_changes()
        m = self.m
        placed = m._fast.placed
        m._hook_out(uc, port, size, value, None)
        if m._fast.placed != placed:
            h.learn_idx = m._fast.at - 1 - m._blocks.done_before_last
        if self.armed and h.armed != 2:
            h.armed = 2

    def _py_rdtsc(self, uc: Any, _ud: Any) -> int:
        h = self._h
        m = self.m
        placed = m._fast.placed
        skip = m._hook_rdtsc(uc, None)
        if m._fast.placed != placed:
            h.learn_idx = m._fast.at - 1 - m._blocks.done_before_last
        return skip


def attach(m: MachinePort) -> HotPorts:
    """The IN/OUT hooks of machine `m` (after its block counter exists)."""
    return HotPorts(m, _lib())
