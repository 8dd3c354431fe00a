"""Interrupt delivery inside a run: the machine's UC_HOOK_INTR hook in C (`_intdeliver.c`).

Without it every INT n, exception and single-step trap stops the engine: the Python hook
(`traps.py`) records it, the slice ends (a fast slice is even run again, counted), and
`delivery.py` vectors with the engine at rest -- a guest with TF=1 ran ~2,500 instructions/s.
The native hook is the engine's only interrupt hook: with paging off it delivers INT n and the
common exceptions itself (real mode as `Delivery._deliver_real`, protected mode and vm86 to ring 0
as `_deliver_protected`), and hands everything else to the Python hook unchanged (any fault during
delivery, task gates, paging, long mode, #PF).  What it
delivered is kept in a ring that `flush` turns into exactly what the Python path produces after
each delivery: the "exception" event (with its instruction count), the interrupt listeners' calls
(each must offer `on_native_delivery`), and the mutation counter.

It only delivers while nothing must see a delivery as it happens (`allowed`): no event filter
(catchpoints on events, transitions), no host-write hooks (recording), no event-log subscribers,
interrupt listeners that accept a replay.  Without the native module (or with BOOTDBG_NO_NATIVE=1)
the Python hook is installed as before: same answers, slower.
"""
from __future__ import annotations

import ctypes
import struct
from typing import TYPE_CHECKING, Any, Callable

from unicorn import UC_HOOK_INTR
from unicorn import unicorn_const as uconst
from unicorn import x86_const as x

from debugger.machine import nativelib
from debugger.machine import uc_layout as L
from debugger.machine.delivery import ERROR_CODE_VECTORS, VECTOR_NAMES
from debugger.machine.events import Event

if TYPE_CHECKING:
    from debugger.machine.pc import Machine

__all__ = ["NativeDelivery", "install", "available", "why_unavailable"]

RING = 4096         # deliveries between two reads by the machine (the engine stops when full)
_REC = struct.Struct("<QqIIIIHBBBBBB")     # _Rec, for reading a whole ring at once
_REMOVE_CACHE = uconst.UC_CTL_TB_REMOVE_CACHE | (2 << 26) | (uconst.UC_CTL_IO_WRITE << 30)


class _Rec(ctypes.Structure):
    _fields_ = [("count", ctypes.c_uint64), ("restarts", ctypes.c_int64),
                ("ip", ctypes.c_uint32), ("frame", ctypes.c_uint32), ("pc", ctypes.c_uint32),
                ("error_code", ctypes.c_uint32), ("cs", ctypes.c_uint16),
                ("vector", ctypes.c_uint8), ("kind", ctypes.c_uint8), ("fast", ctypes.c_uint8),
                ("width", ctypes.c_uint8), ("real", ctypes.c_uint8), ("has_ec", ctypes.c_uint8)]


class _D(ctypes.Structure):
    _fields_ = [("env", ctypes.c_void_p), ("fallback", ctypes.c_void_p),
                ("mem_read", ctypes.c_void_p), ("mem_write", ctypes.c_void_p),
                ("reg_read", ctypes.c_void_p), ("uc_ctl", ctypes.c_void_p),
                ("emu_stop", ctypes.c_void_p), ("blocks_enabled", ctypes.c_void_p),
                ("blocks_counter", ctypes.c_void_p), ("blocks_last", ctypes.c_void_p),
                ("restarts", ctypes.c_void_p), ("emu_counter", ctypes.c_void_p),
                ("ram_size", ctypes.c_uint64), ("enabled", ctypes.c_int32),
                ("remove_cache", ctypes.c_int32), ("eflags_reg", ctypes.c_int32),
                ("nrec", ctypes.c_uint32), ("cap", ctypes.c_uint32), ("nexc", ctypes.c_uint32),
                ("recs", ctypes.c_void_p), ("delivered", ctypes.c_uint64),
                ("fallbacks", ctypes.c_uint64)]


def _lib() -> ctypes.CDLL | None:
    lib = nativelib.load("debugger.machine._intdeliver", "bootdbg_intdeliver_size", _D)[0]
    if lib is not None and (lib.bootdbg_intrec_size() != ctypes.sizeof(_Rec)
                            or ctypes.sizeof(_Rec) != _REC.size):
        return None
    return lib


def available() -> bool:
    return _lib() is not None


def why_unavailable() -> str:
    return nativelib.load("debugger.machine._intdeliver", "bootdbg_intdeliver_size", _D)[1] \
        or "native record layout mismatch (rebuild)"


class NativeDelivery:
    """The native interrupt hook of one machine (its Python hook is the fallback)."""

    def __init__(self, m: "Machine", python_hook: Callable[[Any, int, Any], None]) -> None:
        from unicorn.unicorn_py3.unicorn import HOOK_INTR_CFUNC, uccallback, uclib

        lib = _lib()
        assert lib is not None
        self.m = m
        self._fallback = uccallback(m.uc, HOOK_INTR_CFUNC)(
            lambda uc, intno, _key: python_hook(uc, intno, None))
        self._recs = (_Rec * RING)()
        b = m._blocks._b
        bstruct = type(b)
        vp = lambda f: ctypes.cast(f, ctypes.c_void_p).value  # noqa: E731
        self.d = _D(m.eng.env, vp(self._fallback), vp(uclib.uc_mem_read), vp(uclib.uc_mem_write),
                    vp(uclib.uc_reg_read), vp(uclib.uc_ctl), vp(uclib.uc_emu_stop),
                    ctypes.addressof(b) + bstruct.enabled.offset,
                    ctypes.addressof(b) + bstruct.counter.offset,
                    ctypes.addressof(b) + bstruct.last.offset,
                    ctypes.addressof(b) + bstruct.restarts.offset,
                    m.eng.uch + L._UC_EMU_COUNTER, m.config.ram_size, 0, _REMOVE_CACHE,
                    x.UC_X86_REG_EFLAGS, 0, RING, 0, ctypes.addressof(self._recs), 0, 0)
        self._enabled = 0
        self._listeners_key: tuple[Any, ...] = ()
        self._listeners_ok = True
        self.handle = ctypes.c_size_t()
        err = uclib.uc_hook_add(m.uc._uch, ctypes.byref(self.handle), UC_HOOK_INTR,
                                ctypes.cast(lib.bootdbg_intdeliver_cb, ctypes.c_void_p),
                                ctypes.cast(ctypes.pointer(self.d), ctypes.c_void_p),
                                ctypes.c_uint64(1), ctypes.c_uint64(0))
        if err:
            raise L.LayoutError(f"cannot hook interrupts natively (unicorn error {err})")

    @property
    def delivered(self) -> int:
        """Deliveries made natively since the machine was built."""
        return int(self.d.delivered)

    def allowed(self) -> bool:
        """May the next slice deliver natively (nothing must see a delivery as it happens)?"""
        m = self.m
        if m.event_filter is not None or m.mem.write_hooks or m.events.subscribed:
            return False
        listeners = m.interrupt_listeners
        if not listeners:
            return True
        key = tuple(listeners)
        if key != self._listeners_key:
            self._listeners_key = key
            self._listeners_ok = all(hasattr(getattr(fn, "__self__", None), "on_native_delivery")
                                     for fn in listeners)
        return self._listeners_ok

    def arm(self) -> None:
        """Before an emu_start (the ring is empty: the machine read it when the slice began)."""
        on = 1 if self.allowed() else 0
        if on != self._enabled:
            self._enabled = self.d.enabled = on

    def discard(self) -> None:
        """The slice is undone (back to its checkpoint): forget what it delivered."""
        self.d.nrec = 0
        self.d.nexc = 0

    def flush(self, slice_base: int, restarts_base: int) -> None:
        """Hand the deliveries of the slice so far to the event log and the interrupt listeners,
        as the Python path would have (made into objects only when those are read)."""
        d = self.d
        n, nexc = d.nrec, d.nexc
        if not n:
            return
        d.nrec = d.nexc = 0
        m = self.m
        m.mutations += n
        raw = ctypes.string_at(self._recs, n * _REC.size)

        def records() -> list[tuple[int, int, int, int, int, int, int, int | None, int, int]]:
            """(icount, vector, kind, cs, ip, frame, pc, error code, width, real) of each."""
            return [(slice_base + count - (0 if fast else restarts - restarts_base), vec, kind,
                     cs, ip, frame, pc,
                     ec if kind and vec in ERROR_CODE_VECTORS else None, width, real)
                    for count, restarts, ip, frame, pc, ec, cs, vec, kind, fast, width, real, _e
                    in _REC.iter_unpack(raw)]

        def events(k: int) -> list[Event]:
            out = []
            for ic, vec, kind, _cs, _ip, _frame, pc, ec, _w, _r in records():
                if kind:
                    out.append(Event("exception", ic, f"{VECTOR_NAMES.get(vec, f'INT {vec:02X}h')}"
                                     f" at {pc:#x}" + (f" error code {ec:#x}" if ec is not None
                                                       else ""),
                                     {"vector": vec, "error_code": ec}))
            return out[len(out) - k:]

        def deliveries(k: int) -> list[tuple[int, int, str, int | None, int, int, int, int, bool]]:
            return [(ic, vec, "exception" if kind else "int", None if real else ec, cs, ip, frame,
                     width, bool(real))
                    for ic, vec, kind, cs, ip, frame, _pc, ec, width, real in records()[n - k:]]
        m.events.add_lazy(nexc, events)
        for fn in m.interrupt_listeners:
            fn.__self__.on_native_delivery(n, deliveries)  # type: ignore[attr-defined]


def install(m: "Machine", python_hook: Callable[[Any, int, Any], None]) -> NativeDelivery | None:
    """The native hook, or None (then the caller installs `python_hook` itself)."""
    if _lib() is None:
        return None
    return NativeDelivery(m, python_hook)
