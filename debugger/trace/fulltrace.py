"""The per-instruction execution trace (`record --full`): TRACE chunks, their records, and reading.

Reading (the API other tools use)::

    from debugger.trace.fulltrace import FullTrace
    ft = FullTrace.open("run.bdt")            # or FullTrace(TraceReader(...)); TraceError if none
    ft.first, ft.last                         # icounts: states first..last are known
    ft.state_at(n)                            # CpuState after instruction n (first <= n <= last)
    for step in ft.steps(start, stop):        # instructions start+1 .. stop (both clipped)
        step.icount                           # this instruction made icount go to step.icount
        step.pc                               # linear address it was fetched from
        step.changes                          # {slot name: new value} (rip, rflags, rax, cs.base, ...)
        step.writes                           # [(physical address, bytes)] in the order made
        step.cpu_state()                      # CpuState after it (what Session shows there)
        step.before                           # slot values before it (a tuple, see SLOTS)

State `n` is what single-stepping a Session shows at icount n: the instruction counting rules are
the machine's (`debugger/machine/pc.py`), and what the machine does between two instructions --
interrupt and exception delivery, BIOS services, HLT -- is part of the record of the
instruction before it (its register changes and its memory writes: stack frames, disk buffers).
A user edit of the state is not an instruction: it starts a new chunk, whose keyframe is the
edited state (the edit itself is in the file's INPUT chunks).

TRACE chunk payload (chunk icount = the keyframe's icount)::

    u64 icount, u32 record count, SLOT_COUNT x u64 keyframe (the state at icount), records

One record per instruction, the state change from the previous state::

    u8 head: bits 0-3 L (RIP += L when 1..15; 0: zigzag varint RIP delta follows),
             0x10 flags (varint XOR of RFLAGS), 0x20 GPRs (varint mask of 16, then a zigzag
             varint delta each), 0x80 other slots (varint mask over slots 18.., zigzag varint
             deltas), 0x40 memory writes (varint count, then varint size, zigzag varint address
             delta from the end of the previous write in this chunk, the bytes)
    order: head, [rip], [flags], [gprs], [others], [writes]

Addresses are physical (guest stores are translated through the page tables and A20).  A later
chunk starting at icount N replaces every record after N of the chunks written before it (the
recorded line after an edit or a rewind).  Records are made by `ftrecord` (native hooks in
`_fulltrace.c`, or the pure-Python `PyEncoder` here, which writes the same bytes).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from debugger.cpustate import INTR_MOVSS, INTR_STI, RF_IF, Activity, CpuState, DescriptorTable
from debugger.machine import uc_layout as L
from debugger.trace import format as F

if TYPE_CHECKING:
    from debugger.trace.reader import TraceReader

__all__ = ["SLOTS", "SLOT_COUNT", "CHUNK_INSNS", "FullTrace", "Step", "PyEncoder",
           "state_from_slots", "slot_table", "decode_chunk"]

CHUNK_INSNS = 1 << 16
_SEGS = ("es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr")
_GPRS = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
         "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
_SEG_OFF = {n: L.OFF_SEGS + 24 * i for i, n in enumerate(_SEGS[:6])} | {
    "ldtr": L.OFF_LDT, "tr": L.OFF_TR}
_M64, _M32 = (1 << 64) - 1, (1 << 32) - 1


def slot_table() -> list[tuple[str, int, int, int]]:
    """(name, CPUX86State offset, size (0: special), mask) for every slot, in slot order."""
    t: list[tuple[str, int, int, int]] = [(g, 8 * i, 8, _M64) for i, g in enumerate(_GPRS)]
    t += [("rip", L.OFF_EIP, 8, _M64), ("rflags", L.OFF_EFLAGS, 0, _M64)]
    for n in _SEGS:
        o = _SEG_OFF[n]
        t += [(f"{n}.selector", o, 4, _M32), (f"{n}.base", o + 8, 8, _M64),
              (f"{n}.limit", o + 16, 4, _M32), (f"{n}.flags", o + 20, 4, _M32)]
    t += [("gdtr.base", L.OFF_GDT + 8, 8, _M64), ("gdtr.limit", L.OFF_GDT + 16, 4, _M32),
          ("idtr.base", L.OFF_IDT + 8, 8, _M64), ("idtr.limit", L.OFF_IDT + 16, 4, _M32)]
    t += [(f"cr{n}", L.OFF_CR + 8 * n, 8, _M64) for n in (0, 2, 3, 4)]
    t += [("efer", L.OFF_EFER, 8, _M64)]
    t += [(f"dr{n}", L.OFF_DR + 8 * n, 8, _M64) for n in (0, 1, 2, 3, 6, 7)]
    t += [("sysenter_cs", L.OFF_SYSENTER_CS, 8, _M64),
          ("sysenter_esp", L.OFF_SYSENTER_CS + 8, 8, _M64),
          ("sysenter_eip", L.OFF_SYSENTER_CS + 16, 8, _M64), ("star", L.OFF_STAR, 8, _M64),
          ("lstar", L.OFF_STAR + 16, 8, _M64), ("cstar", L.OFF_STAR + 24, 8, _M64),
          ("fmask", L.OFF_STAR + 32, 8, _M64), ("kernel_gs_base", L.OFF_STAR + 40, 8, _M64),
          ("pat", L.OFF_PAT, 8, _M64), ("a20", L.OFF_A20, 4, _M32),
          ("inhibit", L.OFF_HFLAGS, 4, 1 << 3), ("activity", 0, 0, _M64)]
    return t


SLOTS: tuple[str, ...] = tuple(s[0] for s in slot_table())
SLOT_COUNT = len(SLOTS)
SLOT_INDEX = {n: i for i, n in enumerate(SLOTS)}
RIP, FLAGS, FIRST_SYS, ACTIVITY = 16, 17, 18, SLOT_COUNT - 1
# Byte ranges (whole 8-byte words) of the slots above RFLAGS, compared as a whole first.  The
# first HOT_RANGES can change in the middle of a translation block (segment loads, LGDT/LIDT,
# LLDT/LTR, WRMSR, A20 from an OUT); QEMU ends the block after changing the others (MOV CR/DR,
# CLTS, LMSW, the IRQ-inhibit flag in hflags), so the native hook compares those at block starts.
RANGES = ((L.OFF_SEGS, L.OFF_CR - L.OFF_SEGS), (L.OFF_A20, 8), (L.OFF_EFER, 8),
          (L.OFF_SYSENTER_CS, L.OFF_STAR + 48 - L.OFF_SYSENTER_CS), (L.OFF_PAT, 8),
          (L.OFF_CR, 72), (L.OFF_HFLAGS, 8), (L.OFF_DR, 64))
HOT_RANGES = 5
assert all(o % 8 == 0 and n % 8 == 0 for o, n in RANGES) and sum(n for _, n in RANGES) <= 1024
_OUTS = {"out", "outsb", "outsw", "outsd", "lmsw", "clts", "(bad)"}
# What else changes a slot other than RIP, RFLAGS and the general registers (QEMU ends the block
# after each): far transfers (CS, and SS/DS/ES/FS/GS for IRET and RETF to another level), IRET,
# STI (the interrupt shadow), SYSENTER/SYSEXIT/SYSCALL/SYSRET; and to be safe what stops in
# Python anyway (software interrupts, HLT) and RSM.
_ENDS_CHANGING = {"ljmp", "lcall", "retf", "retfq", "iret", "iretd", "iretq", "sti", "sysenter",
                  "sysexit", "sysexitq", "syscall", "sysret", "sysretq", "int", "int1", "int3",
                  "into", "hlt", "rsm"}
# Block classes (the native hook's): nothing in the block changes a slot beyond RIP, RFLAGS and
# the general registers / only its last instruction can (compare at the next block start) / an
# instruction before its end can (compare at every instruction).
PURE, ENDS_CHANGING, SUSPECT = 1, 4, 2


def block_class(read: Any, address: int, size: int, bits: int) -> int:
    """PURE, ENDS_CHANGING or SUSPECT (see above).  Suspect: segment/DTR loads and WRMSR (the
    engine's block scan), OUT (the A20 gate), moves to control and debug registers, LMSW, CLTS,
    undecodable bytes."""
    from debugger.engine.blockscan import classify
    from debugger.disasm import disassemble

    if classify(read, address, size, bits):
        return SUSPECT
    try:
        code = read(address, size)
    except Exception:
        return SUSPECT
    cls = PURE
    for ins in disassemble(code, address, bits):
        if ins.mnemonic in _OUTS or (ins.mnemonic == "mov" and any(
                r in ins.op_str for r in ("cr", "dr"))):
            return SUSPECT
        if ins.mnemonic in _ENDS_CHANGING:
            cls = ENDS_CHANGING
    return cls


CC_OP_OFF, CC_DF_OFF = L.OFF_CC_OP, L.OFF_CC_OP + 4     # cc_op, df (int32 each)
CHUNK_HEAD = struct.Struct("<QI")
_KEY = struct.Struct(f"<{SLOT_COUNT}Q")
assert SLOT_COUNT == 77 and SLOTS[ACTIVITY] == "activity"


def state_from_slots(v: tuple[int, ...] | list[int]) -> CpuState:
    """The CpuState a slot vector stands for (the same derivation as machine.cpu.read_state)."""
    from debugger.machine.cpu import seg_from_cache

    kw: dict[str, Any] = dict(zip(_GPRS, v[:16]))
    kw["rip"], kw["rflags"] = v[RIP], v[FLAGS]
    for i, n in enumerate(_SEGS):
        b = FIRST_SYS + 4 * i
        kw[n] = seg_from_cache(v[b], v[b + 1], v[b + 2], v[b + 3], n)
    ix = SLOT_INDEX
    kw["gdtr"] = DescriptorTable(v[ix["gdtr.base"]], v[ix["gdtr.limit"]])
    kw["idtr"] = DescriptorTable(v[ix["idtr.base"]], v[ix["idtr.limit"]])
    for name in ("cr0", "cr2", "cr3", "cr4", "efer", "dr0", "dr1", "dr2", "dr3", "dr6", "dr7",
                 "sysenter_cs", "sysenter_esp", "sysenter_eip", "star", "lstar", "cstar",
                 "fmask", "kernel_gs_base", "pat"):
        kw[name] = v[ix[name]]
    kw["a20"] = v[ix["a20"]] == _M32
    intr = 0
    if v[ix["inhibit"]]:
        intr = INTR_STI if v[FLAGS] & RF_IF else INTR_MOVSS
    kw["interruptibility"] = intr
    kw["activity"] = Activity(v[ACTIVITY])
    return CpuState(**kw)


# -- varints --------------------------------------------------------------------------------------
def _varint(out: bytearray, v: int) -> None:
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _zz(out: bytearray, delta: int) -> None:
    s = delta & _M64
    if s >> 63:
        s -= 1 << 64
    _varint(out, ((s << 1) ^ (s >> 63)) & _M64)


def _get_varint(b: bytes, p: int) -> tuple[int, int]:
    v = shift = 0
    while True:
        c = b[p]
        p += 1
        v |= (c & 0x7F) << shift
        if c < 0x80:
            return v, p
        shift += 7


def _get_zz(b: bytes, p: int) -> tuple[int, int]:
    v, p = _get_varint(b, p)
    return (v >> 1) ^ -(v & 1), p


# -- the pure-Python encoder (the reference for the native one) ---------------------------------------
class PyEncoder:
    """The record encoder in Python: the same state machine as `_fulltrace.c` (`observe`)."""

    def __init__(self, eng: Any, chunk_insns: int = CHUNK_INSNS) -> None:
        import ctypes

        self.eng = eng
        self.chunk_insns = chunk_insns
        self.table = slot_table()
        self.buf = bytearray()
        self.marks: list[tuple[int, int, int]] = []     # (offset, icount, records before)
        self.shadow = [0] * SLOT_COUNT
        self.frontier = 0
        self.tracking = False
        self.resync_armed = False
        self.activity = 0
        self.chunk_records = 0
        self.wbuf = bytearray()
        self.wcount = 0
        self.last_waddr = 0
        self.lost = self.gaps = 0
        lib = ctypes.CDLL(_unicorn_lib())
        self._cc = lib.cpu_cc_compute_all_x86_64
        self._cc.restype = ctypes.c_uint32
        self._cc.argtypes = [ctypes.c_void_p, ctypes.c_int]

    def values(self, in_exec: bool) -> list[int]:
        raw = self.eng.read(0, L.OFF_DR + 64)
        out = []
        for i, (_n, off, size, mask) in enumerate(self.table):
            if i == FLAGS:
                fl = int.from_bytes(raw[L.OFF_EFLAGS:L.OFF_EFLAGS + 8], "little")
                if in_exec:
                    op = int.from_bytes(raw[CC_OP_OFF:CC_OP_OFF + 4], "little", signed=True)
                    df = int.from_bytes(raw[CC_DF_OFF:CC_DF_OFF + 4], "little", signed=True)
                    # Unicorn's hook dispatch leaves stale condition codes in env->eflags.
                    fl = (fl & ~0xCD5) | self._cc(self.eng.env, op) | (df & 0x400)
                out.append(fl)
            elif i == ACTIVITY:
                out.append(self.activity)
            else:
                out.append(int.from_bytes(raw[off:off + size], "little") & mask)
        return out

    def _start_chunk(self) -> None:
        self.marks.append((len(self.buf), self.frontier, self.chunk_records))
        self.buf += _KEY.pack(*self.shadow)
        self.chunk_records = 0
        self.last_waddr = 0

    def _resync(self, icount: int, in_exec: bool) -> None:
        self.shadow = self.values(in_exec)
        self.frontier = icount
        self.tracking = True
        self.resync_armed = False
        self.wbuf.clear()
        self.wcount = 0
        self._start_chunk()

    def rearm(self, icount: int) -> None:
        self.tracking = False
        self.resync_armed = True
        self.frontier = icount
        self.wbuf.clear()
        self.wcount = 0

    def start(self, icount: int) -> None:
        self._resync(icount, False)

    def observe(self, done: int, in_exec: bool) -> None:
        if not self.tracking:
            if self.resync_armed and done == self.frontier:
                self._resync(done, in_exec)
            return
        if done == self.frontier + 1:
            self._emit(in_exec)
        elif done > self.frontier + 1:
            self.gaps += 1
            self._resync(done, in_exec)
        elif done < self.frontier:
            self.tracking = False
            self.resync_armed = True
            self.wbuf.clear()
            self.wcount = 0

    def add_write(self, addr: int, data: bytes) -> None:
        if not self.tracking:
            return
        w = self.wbuf
        _varint(w, len(data))
        _zz(w, addr - self.last_waddr)
        w += data
        self.last_waddr = (addr + len(data)) & _M64
        self.wcount += 1

    def _emit(self, in_exec: bool) -> None:
        v = self.values(in_exec)
        sh = self.shadow
        out = bytearray()
        head = 0
        delta = (v[RIP] - sh[RIP]) & _M64
        if 1 <= delta <= 15:
            head = delta
        else:
            _zz(out, delta)
        if v[FLAGS] != sh[FLAGS]:
            head |= 0x10
            _varint(out, v[FLAGS] ^ sh[FLAGS])
        mask = sum(1 << i for i in range(16) if v[i] != sh[i])
        if mask:
            head |= 0x20
            _varint(out, mask)
            for i in range(16):
                if mask >> i & 1:
                    _zz(out, v[i] - sh[i])
        smask = sum(1 << (i - FIRST_SYS) for i in range(FIRST_SYS, SLOT_COUNT)
                    if i != FLAGS and v[i] != sh[i])
        if smask:
            head |= 0x80
            _varint(out, smask)
            for i in range(FIRST_SYS, SLOT_COUNT):
                if smask >> (i - FIRST_SYS) & 1:
                    _zz(out, v[i] - sh[i])
        if self.wcount:
            head |= 0x40
            _varint(out, self.wcount)
            out += self.wbuf
            self.wbuf.clear()
            self.wcount = 0
        self.buf.append(head)
        self.buf += out
        self.shadow = v
        self.frontier += 1
        self.chunk_records += 1
        if self.chunk_records >= self.chunk_insns:
            self._start_chunk()

    def take(self) -> tuple[bytes, list[tuple[int, int, int]]]:
        data, marks = bytes(self.buf), self.marks
        self.buf.clear()
        self.marks = []
        return data, marks


def _unicorn_lib() -> str:
    from unicorn.unicorn_py3.unicorn import uclib

    return uclib._name


# -- decoding -----------------------------------------------------------------------------------------
@dataclass
class Step:
    icount: int
    pc: int
    before: tuple[int, ...]
    after: tuple[int, ...]
    changes: dict[str, int]
    writes: list[tuple[int, bytes]]

    def cpu_state(self) -> CpuState:
        return state_from_slots(self.after)


def _linear_pc(v: list[int] | tuple[int, ...]) -> int:
    cs_base = v[FIRST_SYS + 4 + 1]
    if v[SLOT_INDEX["efer"]] & 0x400 and v[FIRST_SYS + 4 + 3] & (1 << 21):
        return v[RIP]
    return (cs_base + v[RIP]) & _M32


def decode_chunk(payload: bytes, *, stop: int | None = None
                 ) -> Iterator[tuple[int, list[int], dict[int, int], list[tuple[int, bytes]]]]:
    """(icount, slots after, {slot index: new value}, writes) for each record of a chunk.

    The slot list is reused between records (copy it to keep it)."""
    if len(payload) < CHUNK_HEAD.size + _KEY.size:
        raise F.TraceError("a trace chunk is too short for its keyframe")
    icount, n = CHUNK_HEAD.unpack_from(payload)
    v = list(_KEY.unpack_from(payload, CHUNK_HEAD.size))
    b = payload
    p = CHUNK_HEAD.size + _KEY.size
    last_w = 0
    try:
        for k in range(n):
            if stop is not None and icount + k >= stop:
                return
            head = b[p]
            p += 1
            ch: dict[int, int] = {}
            ln = head & 15
            if ln:
                v[RIP] = (v[RIP] + ln) & _M64
            else:
                d, p = _get_zz(b, p)
                v[RIP] = (v[RIP] + d) & _M64
            ch[RIP] = v[RIP]
            if head & 0x10:
                x, p = _get_varint(b, p)
                v[FLAGS] ^= x
                ch[FLAGS] = v[FLAGS]
            if head & 0x20:
                mask, p = _get_varint(b, p)
                for i in range(16):
                    if mask >> i & 1:
                        d, p = _get_zz(b, p)
                        v[i] = (v[i] + d) & _M64
                        ch[i] = v[i]
            if head & 0x80:
                mask, p = _get_varint(b, p)
                for i in range(FIRST_SYS, SLOT_COUNT):
                    if mask >> (i - FIRST_SYS) & 1:
                        d, p = _get_zz(b, p)
                        v[i] = (v[i] + d) & _M64
                        ch[i] = v[i]
            writes: list[tuple[int, bytes]] = []
            if head & 0x40:
                cnt, p = _get_varint(b, p)
                for _ in range(cnt):
                    size, p = _get_varint(b, p)
                    d, p = _get_zz(b, p)
                    addr = (last_w + d) & _M64
                    if p + size > len(b):
                        raise IndexError
                    writes.append((addr, bytes(b[p:p + size])))
                    p += size
                    last_w = (addr + size) & _M64
            yield icount + k + 1, v, ch, writes
    except IndexError:
        raise F.TraceError(f"trace chunk at icount {icount} is malformed") from None


class FullTrace:
    """The per-instruction trace of a .bdt file, on the recorded line (see the module doc)."""

    def __init__(self, reader: "TraceReader") -> None:
        self.r = reader
        self._cache: tuple[Any, bytes] | None = None
        # [start icount, end icount, chunk]: a chunk ends where the next one starts (chunks
        # follow each other), and a later chunk cuts the line at its start.
        line: list[list[Any]] = []
        for e in reader.of_type(F.TRACE):
            while line and line[-1][0] >= e.icount:
                line.pop()
            if line:
                line[-1][1] = e.icount
            line.append([e.icount, None, e])
        if not line:
            raise F.TraceError(f"{reader.path}: no per-instruction trace in this file "
                               "(record it with --full)")
        line[-1][1] = line[-1][0] + self._count(line[-1][2])
        self.line = [(a, b, e) for a, b, e in line]
        self.first = self.line[0][0]
        self.last = self.line[-1][1]

    @classmethod
    def open(cls, path: Any) -> "FullTrace":
        from debugger.trace.reader import TraceReader

        return cls(TraceReader(path))

    def _payload(self, e: Any) -> bytes:
        if self._cache is None or self._cache[0] is not e:
            self._cache = (e, self.r.read(e))
        return self._cache[1]

    def _count(self, e: Any) -> int:
        data = self._payload(e)
        if len(data) < CHUNK_HEAD.size:
            raise F.TraceError(f"{self.r.path}: trace chunk {e.seq} is malformed")
        return CHUNK_HEAD.unpack_from(data)[1]

    def __len__(self) -> int:
        return sum(b - a for a, b, _ in self.line)

    def steps(self, start: int | None = None, stop: int | None = None) -> Iterator[Step]:
        """Instructions start+1 .. stop (icount after each), in order."""
        lo = self.first if start is None else max(start, self.first)
        hi = self.last if stop is None else min(stop, self.last)
        for a, b, e in self.line:
            if b <= lo or a >= hi:
                continue
            prev: tuple[int, ...] | None = None
            for ic, v, ch, writes in decode_chunk(self._payload(e), stop=min(b, hi)):
                cur = tuple(v)
                if ic > lo:
                    before = prev if prev is not None else self._key(e)
                    yield Step(ic, _linear_pc(before), before, cur,
                               {SLOTS[i]: x for i, x in ch.items()}, writes)
                prev = cur

    def _key(self, e: Any) -> tuple[int, ...]:
        return tuple(_KEY.unpack_from(self._payload(e), CHUNK_HEAD.size))

    def slots_at(self, icount: int) -> tuple[int, ...]:
        for a, b, e in self.line:
            if a <= icount <= b:
                if icount == a:
                    return self._key(e)
                for ic, v, _ch, _w in decode_chunk(self._payload(e), stop=icount):
                    if ic == icount:
                        return tuple(v)
        raise F.TraceError(f"icount {icount} is not in the trace ({self.first}..{self.last})")

    def state_at(self, icount: int) -> CpuState:
        return state_from_slots(self.slots_at(icount))
