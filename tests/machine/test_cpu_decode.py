"""`cpu.decode_state` builds the state record without CpuState's constructor and keeps the
segment and descriptor-table values it decoded in tables keyed by their raw bytes: it must give
the record the plain decode gives (every field, by the constructor), for any bytes."""
from __future__ import annotations

import random
import struct

from debugger.cpustate import INTR_MOVSS, INTR_STI, RF_IF, CpuState, DescriptorTable
from debugger.machine import cpu as C
from debugger.machine import uc_layout as L


def _plain_decode(raw) -> CpuState:
    """The decode as written before (keywords, the constructor, nothing kept)."""
    head, activity = raw
    kw = dict(zip(C._GPR, struct.unpack_from("<16Q", head, 0)))
    rip, rflags = struct.unpack_from("<QQ", head, L.OFF_EIP)
    kw.update(rip=rip, rflags=rflags)
    for name in C._SEG_NAMES8:
        sel, base, limit, flags = C._SEG_STRUCT.unpack_from(head, C._SEG_OFF[name])
        kw[name] = C.seg_from_cache(sel, base, limit, flags, name)
    _, gbase, glimit, _ = C._SEG_STRUCT.unpack_from(head, L.OFF_GDT)
    _, ibase, ilimit, _ = C._SEG_STRUCT.unpack_from(head, L.OFF_IDT)
    kw["gdtr"], kw["idtr"] = DescriptorTable(gbase, glimit), DescriptorTable(ibase, ilimit)
    crs = struct.unpack_from("<9Q", head, L.OFF_CR)
    kw.update(cr0=crs[0], cr2=crs[2], cr3=crs[3], cr4=crs[4])
    kw["efer"] = struct.unpack_from("<Q", head, L.OFF_EFER)[0]
    msrs = struct.unpack_from("<9Q", head, L.OFF_SYSENTER_CS)
    kw.update(sysenter_cs=msrs[0], sysenter_esp=msrs[1], sysenter_eip=msrs[2], star=msrs[3],
              lstar=msrs[5], cstar=msrs[6], fmask=msrs[7], kernel_gs_base=msrs[8])
    drs = struct.unpack_from("<8Q", head, L.OFF_DR)
    kw.update(dr0=drs[0], dr1=drs[1], dr2=drs[2], dr3=drs[3], dr6=drs[6], dr7=drs[7])
    kw["pat"] = struct.unpack_from("<Q", head, L.OFF_PAT)[0]
    kw["activity"] = activity
    hflags = struct.unpack_from("<I", head, L.OFF_HFLAGS)[0]
    kw["interruptibility"] = (INTR_STI if rflags & RF_IF else INTR_MOVSS) if hflags & 8 else 0
    kw["a20"] = struct.unpack_from("<i", head, L.OFF_A20)[0] == -1
    return CpuState(**kw)


def _same(a: CpuState, b: CpuState) -> None:
    assert a == b and hash(a) == hash(b) and repr(a) == repr(b)
    for name in C._FIELDS:
        assert getattr(a, name) == getattr(b, name), name
        assert type(getattr(a, name)) is type(getattr(b, name)), name


def _mutated(head: bytes, rng: random.Random) -> bytes:
    b = bytearray(head)
    spots = [L.OFF_REGS, L.OFF_EIP, L.OFF_EFLAGS, L.OFF_CR, L.OFF_DR, L.OFF_EFER, L.OFF_PAT,
             L.OFF_HFLAGS, L.OFF_A20, L.OFF_GDT, L.OFF_IDT, L.OFF_SYSENTER_CS,
             *C._SEG_OFF.values()]
    for _ in range(rng.randint(1, 8)):
        off = rng.choice(spots) + rng.randrange(24)
        b[off] = rng.randrange(256)
    if rng.random() < 0.3:      # (a TSS that LTR left available: reported busy)
        off = C._SEG_OFF["tr"] + 20
        b[off + 1] = rng.choice((0x81, 0x89, 0x01, 0x8B))
    return bytes(b)


def test_decode_equals_the_plain_decode_for_any_bytes(boot):
    m = boot("bits 16\norg 0x7c00\n    mov ax, 0x1234\n    hlt\n    times 510-($-$$) db 0\n"
             "    dw 0xaa55\n")
    m.run(100)
    head, activity = m.cpu.raw_state()
    rng = random.Random(15)
    seen = []
    for i in range(400):
        raw = (_mutated(head, rng), rng.choice(list(type(activity))))
        seen.append(raw)
        _same(C.decode_state(raw), _plain_decode(raw))
    for raw in seen[::7]:           # (again: from the tables now)
        _same(C.decode_state(raw), _plain_decode(raw))


def test_tables_dropped_when_full_decode_the_same(boot, monkeypatch):
    monkeypatch.setattr(C, "_TABLE_MAX", 3)
    m = boot("bits 16\norg 0x7c00\n    hlt\n    times 510-($-$$) db 0\n    dw 0xaa55\n")
    head, activity = m.cpu.raw_state()
    rng = random.Random(7)
    for _ in range(60):
        raw = (_mutated(head, rng), activity)
        _same(C.decode_state(raw), _plain_decode(raw))
    assert all(len(t) <= 3 for _n, _o, t in C._SEG_TABLES)
