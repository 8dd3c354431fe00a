"""Compare two instruction streams -- .bdt recordings or QEMU logs -- and find the first divergence.

Each side is a sequence of records, one per executed instruction: the state before it (a .bdt is
re-executed by `istream`; a QEMU `-d cpu,nochain` log with one instruction per block has one
register dump per instruction, `qemulog`).  Both are aligned at the first instruction at
0000:7C00 (`start`) and then walked in step.

What counts as a divergence.  Two machines rarely agree on everything at 7C00: SeaBIOS leaves
other values than bootdbg's hand-off in registers, the stack pointer, segment caches.  So the
diff does not compare states, it compares what the instructions do to them: an instruction
diverges when, after it, a register byte (a flag bit for EFLAGS), a segment-cache field or a
descriptor-table register that was equal on both sides before it is different -- unless the
value already differed in other bytes and the instruction changed it by the same amount on both
sides (a push with different stack pointers).  Values that already differ stay out of the
comparison until an instruction makes them equal (the report lists them, with where they
started to differ).  REP string instructions: bootdbg executes one more final count check than
QEMU logging with `nochain` shows; that record is matched up.  Besides state, a divergence
is: the next instruction at a different CS:EIP (control flow), different instruction bytes at
the same address (when both sides know them), different memory writes (two recordings), or one
side stopping for good (halt, triple fault, ...) while the other executes on.

BIOS work.  Two bootdbg recordings run the same firmware, so its work is compared like the rest
(a BIOS call that returns differently diverges at the call).  Against a QEMU log, when one side
enters the firmware's ROM (C0000-FFFFF) from outside it -- an INT n into the BIOS, a far call
into it, a hardware interrupt -- that side is skipped until it is back outside the ROM (on the
same stack not deeper than before, or on another stack), where the other side must continue at
the same CS:EIP.  The registers a BIOS call leaves different are reported as notes and then
treated like the initial differences.  Only the first divergence is reported, with the
instructions before it and the next ones on each side.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from debugger.trace.fields import FLAG_FIELDS, display, hex_width

__all__ = ["Rec", "Side", "Divergence", "DiffResult", "diff", "open_side", "format_result",
           "DiffError"]

_M64 = (1 << 64) - 1
_STOPS = ("halted", "triple-fault", "reset", "unmapped", "unsupported", "boot-failed")


class DiffError(Exception):
    """An input that cannot be compared (one line)."""


@dataclass(slots=True)
class Rec:
    """One instruction of a side: where it is and the state before it."""

    pos: int                    # icount (recording) or record number (QEMU log)
    cs: int
    eip: int
    linear: int
    sp: int                     # linear stack top
    ss: int
    bits: int
    code: bytes | None
    _fields: Callable[[], dict[str, int]] | dict[str, int]
    _text: str | None = None
    writes: list[tuple[int, bytes]] | None = None
    line: int | None = None     # QEMU log line
    final: str | None = None    # a recording's state after its last instruction: why it ends

    def fields(self) -> dict[str, int]:
        if callable(self._fields):
            self._fields = self._fields()
        return self._fields

    @property
    def text(self) -> str | None:
        if self._text is None and self.code:
            from debugger.disasm import decode_one

            ins = decode_one(self.code, self.linear, self.bits)
            # QEMU's in_asm shows at most 8 bytes: a longer instruction does not decode.
            self._text = ins.text if ins and ins.mnemonic != "(bad)" else None
        return self._text

    @property
    def where(self) -> str:
        if self.line is not None:      # records counted from the aligned start
            return f"record {self.pos} (line {self.line})"
        return f"icount {self.pos}"

    @property
    def loc(self) -> str:
        w = 8 if self.eip > 0xFFFF else 4
        return f"{self.cs:04X}:{self.eip:0{w}X}"


class Side:
    def __init__(self, label: str, path: str, kind: str, recs: Iterator[Rec],
                 closer: Callable[[], None] | None = None) -> None:
        self.label, self.path, self.kind = label, path, kind
        self._recs = recs
        self.end_reason: str | None = None
        self.end_message = ""
        self.notes: list[str] = []
        self._closer = closer
        self.last: Rec | None = None
        self.base = 0           # a QEMU log's record number of the aligned start
        self._back: list[Rec] = []

    def next(self) -> Rec | None:
        r = self._back.pop() if self._back else next(self._recs, None)
        if r is not None:
            self.last = r
        return r

    def push(self, r: Rec) -> None:
        """Put `r` back: the next `next()` returns it."""
        self._back.append(r)

    @property
    def stopped(self) -> bool:
        """The side ended because its machine stopped for good (not cut, not a budget)."""
        return self.end_reason in _STOPS

    def close(self) -> None:
        if self._closer:
            self._closer()


def open_side(label: str, path: str | Path) -> Side:
    """A .bdt recording (by its signature) or a QEMU log."""
    from debugger.trace import format as F
    from debugger.trace.files import read_head

    p = Path(path)
    if read_head(path, len(F.MAGIC), DiffError) == F.MAGIC:
        return _bdt_side(label, p)
    return _qemu_side(label, p)


def _bdt_side(label: str, path: Path) -> Side:
    from debugger.trace import format as F
    from debugger.trace.fields import flatten
    from debugger.trace.istream import End, Event, InstructionStream, Step

    try:
        stream = InstructionStream(path)
    except F.TraceError as exc:
        raise DiffError(str(exc)) from None
    side: Side

    def rec(st: Any, pos: int, code: bytes | None, text: str | None,
            writes: list[tuple[int, bytes]] | None, final: str | None = None) -> Rec:
        return Rec(pos, st.cs.selector, st.rip, st.pc, st.sp_linear, st.ss.selector, st.bits,
                   code, lambda: flatten(st), text, writes, None, final)

    def recs() -> Iterator[Rec]:
        # A record is handed out when the next instruction is known, with the memory written
        # by what happened in between (a BIOS service, an interrupt delivery) as its own.
        # A BIOS service run at a ROM stub belongs to the instruction at the stub, as a live
        # session shows it (and a --full recording stores it): that instruction's state is the
        # one before the service, its writes include the service's.
        held: Rec | None = None
        bios: Any = None
        bios_writes: list[tuple[int, bytes]] = []
        try:
            for it in stream.items():
                if isinstance(it, (Step, End)) and held is not None:
                    yield held
                if isinstance(it, Step):
                    held = rec(it.before if bios is None else bios, it.icount, it.code, it.text,
                               bios_writes + [(a, new) for a, _old, new in it.writes])
                    bios, bios_writes = None, []
                elif isinstance(it, Event) and it.kind == "bios":
                    bios = it.before if bios is None else bios
                    bios_writes += [(a, new) for a, _old, new in it.writes]
                elif isinstance(it, Event):
                    if held is not None and held.writes is not None:
                        held.writes += [(a, new) for a, _old, new in it.writes]
                else:
                    side.end_reason, side.end_message = it.reason, it.message
                    yield rec(it.state, it.icount, None, None, None, final=it.reason)
        except F.TraceError as exc:
            raise DiffError(str(exc)) from None
    side = Side(label, str(path), "bootdbg recording", recs(), stream.close)
    if stream.damage:
        side.notes.append(f"{path}: {stream.damage}; using what precedes it")
    return side


def _qemu_side(label: str, path: Path) -> Side:
    from debugger.trace.qemulog import QemuLog, QemuLogError

    try:
        log = QemuLog(path)
    except QemuLogError as exc:
        raise DiffError(str(exc)) from None
    side: Side

    def fields_of(q: Any) -> Callable[[], dict[str, int]]:
        # Read when the diff reaches the record: a bad line there is an input error too.
        def fields() -> dict[str, int]:
            try:
                return q.fields()
            except QemuLogError as exc:
                raise DiffError(str(exc)) from None
        return fields

    def recs() -> Iterator[Rec]:
        try:
            for q in log.records():
                yield Rec(q.index - side.base, q.cs, q.eip, q.linear, q.sp, q.ss, q.bits, q.code,
                          fields_of(q), None, None, q.line)
        except QemuLogError as exc:
            raise DiffError(str(exc)) from None
        side.end_reason = "end of log"
        side.notes.extend(log.notes)
    side = Side(label, str(path), "QEMU log", recs())
    return side


# -- the comparison ------------------------------------------------------------------------
@dataclass
class FieldDiff:
    name: str
    a_before: int
    a_after: int
    b_before: int
    b_after: int


@dataclass
class Divergence:
    kind: str                   # "state" | "control" | "code" | "memory" | "end"
    message: str
    a: Rec
    b: Rec
    a_next: Rec | None = None
    b_next: Rec | None = None
    fields: list[FieldDiff] = field(default_factory=list)
    already: list[tuple[str, int, int, str]] = field(default_factory=list)
    before: list[tuple[Rec, Rec]] = field(default_factory=list)
    after_a: list[Rec] = field(default_factory=list)
    after_b: list[Rec] = field(default_factory=list)


@dataclass
class DiffResult:
    a: Side
    b: Side
    compared: int = 0
    initial: list[tuple[str, int, int]] = field(default_factory=list)
    bios: list[str] = field(default_factory=list)     # firmware work skipped
    calls: int = 0                                      # of which calls (INT n, far calls)
    notes: list[str] = field(default_factory=list)
    divergence: Divergence | None = None
    start_a: Rec | None = None
    start_b: Rec | None = None

    @property
    def same(self) -> bool:
        return self.divergence is None


def _bytes_mask(d: int) -> int:
    m = 0
    shift = 0
    while d:
        if d & 0xFF:
            m |= 0xFF << shift
        d >>= 8
        shift += 8
    return m


def _seek_start(side: Side, start: tuple[int, int]) -> Rec:
    while True:
        r = side.next()
        if r is None:
            raise DiffError(f"{side.path}: no instruction at {start[0]:04X}:{start[1]:04X} "
                            f"({side.kind}, {side.end_reason or 'ended'})")
        if r.cs == start[0] and r.eip == start[1] and r.final is None:
            if r.line is not None:      # number a log's records from here
                side.base = r.pos
                r.pos = 0
            return r


def _skip_firmware(side: Side, r: Rec, ss: int, sp: int) -> Rec | None:
    """From `r` (in ROM), the first record back outside the ROM on a stack not deeper than `sp`
    (or on another stack)."""
    from debugger.trace.istream import in_rom

    while r is not None:
        if not in_rom(r.linear) and (r.ss != ss or r.sp >= sp):
            return r
        r = side.next()
    return None


def _same_loc(x: Rec, y: Rec) -> bool:
    return x.cs == y.cs and x.eip == y.eip


def _unchanged(r: Rec, n: Rec | None) -> bool:
    return n is not None and _same_loc(n, r) and n.fields() == r.fields()


def _drop_reissued(side: Side, r: Rec, n: Rec | None, r_other: Rec, n_other: Rec | None
                   ) -> Rec | None:
    """Skip records that repeat `r` unchanged while the other side moved on: QEMU logs a block
    before running it and may leave it before its instruction executes (to take an interrupt,
    or when its I/O thread kicks the CPU: host timing), then logs it again.  A REP iteration
    stays at its address but changes the count, so the other side's move is any change."""
    while n is not None and n_other is not None and n.final is None and _unchanged(r, n) \
            and not _unchanged(r_other, n_other):
        n = side.next()
    return n


def _rep_tail(side: Side, r: Rec, n: Rec | None, other: Rec | None, ins: str) -> Rec | None:
    """Skip a REP string instruction's final count check on one side.  bootdbg (like QEMU
    without `nochain`) executes REP once more when the count reaches 0, which only moves EIP
    on; QEMU logging with `nochain` leaves the instruction right after the last iteration."""
    if n is None or other is None or n.final is not None or not _same_loc(n, r) \
            or _same_loc(n, other) or not ins.startswith("rep"):
        return n
    n2 = side.next()
    if n2 is not None and _same_loc(n2, other):
        return n2
    if n2 is not None:
        side.push(n2)
    return n


def _is_call(ins: str) -> bool:
    return ins.split(" ", 1)[0] in ("int", "int1", "int3", "into", "lcall")


def diff(a: Side, b: Side, *, start: tuple[int, int] = (0, 0x7C00),
         context: int = 3) -> DiffResult:
    from debugger.trace.istream import in_rom

    res = DiffResult(a, b)
    ra, rb = _seek_start(a, start), _seek_start(b, start)
    res.start_a, res.start_b = ra, rb
    fa, fb = ra.fields(), rb.fields()
    keys = [k for k in fa if k in fb]
    origin: dict[str, str] = {}
    for k in keys:
        if fa[k] != fb[k]:
            res.initial.append((k, fa[k], fb[k]))
            origin[k] = "since the start"
    hist: deque[tuple[Rec, Rec]] = deque(maxlen=context)
    # Two bootdbg recordings run the same firmware: its work is compared like the rest.
    skip_fw = a.kind != "bootdbg recording" or b.kind != "bootdbg recording"
    na, nb = a.next(), b.next()
    while True:
        na = _drop_reissued(a, ra, na, rb, nb)
        nb = _drop_reissued(b, rb, nb, ra, na)
        ins = ra.text or rb.text or ""     # (a QEMU log without in_asm has no bytes)
        na = _rep_tail(a, ra, na, nb, ins)
        nb = _rep_tail(b, rb, nb, na, ins)
        if na is None or nb is None:
            _ended(res, ra, rb, na, nb, hist, context)
            break
        into_a = skip_fw and not in_rom(ra.linear) and in_rom(na.linear)
        into_b = skip_fw and not in_rom(rb.linear) and in_rom(nb.linear)
        if into_a or into_b:
            # Firmware work on one side or both: skip it on each side that went there.
            what = f"{ra.text or rb.text or 'the instruction'} at {ra.loc} (A {ra.where})"
            if into_a:
                na = _skip_firmware(a, na, ra.ss, ra.sp)
            if into_b:
                nb = _skip_firmware(b, nb, rb.ss, rb.sp)
            if na is None or nb is None:
                res.notes.append(f"{'A' if na is None else 'B'} ends inside the firmware "
                                 f"after {what}")
                continue
            # Back at the instruction it was about to run: an interrupt came before it.
            if _same_loc(na, ra) and not _same_loc(nb, ra):
                res.bios.append(f"A: interrupt before {what}, A {ra.where}..{na.where}")
                ra, fa, na = na, na.fields(), a.next()
                continue
            if _same_loc(nb, rb) and not _same_loc(na, rb):
                res.bios.append(f"B: interrupt before {what}, B {rb.where}..{nb.where}")
                rb, fb, nb = nb, nb.fields(), b.next()
                continue
            if (into_a and into_b) or _is_call(ins):
                # A call into the firmware: its results may differ; they are noted.
                if not _same_loc(na, nb):
                    res.divergence = _report(
                        "control", f"after the firmware work of {what}, A continues at "
                        f"{na.loc} and B at {nb.loc}", ra, rb, na, nb, hist, a, b, context,
                        origin, keys)
                    break
                fa2, fb2 = na.fields(), nb.fields()
                left = [k for k in keys if fa2.get(k) != fb2.get(k) and fa.get(k) == fb.get(k)]
                for k in left:
                    origin[k] = f"after the firmware work of {what}"
                res.bios.append(f"{what}: A {ra.where}..{na.where}, B {rb.where}..{nb.where}"
                                + (": then differ in " + ", ".join(
                                    f"{display(k)} {_hex(k, fa2[k])}/{_hex(k, fb2[k])}"
                                    for k in left) if left else ""))
                res.calls += 1
                hist.append((ra, rb))
                res.compared += 1
                ra, rb, fa, fb = na, nb, fa2, fb2
                na, nb = a.next(), b.next()
                continue
            res.bios.append(f"{'A' if into_a else 'B'}: interrupt after {what}")
            # An interrupt taken after the instruction on one side: compare it as usual.
        kind, msg, diffs = _compare(ra, rb, na, nb, fa, fb, keys)
        if kind is not None:
            res.divergence = _report(kind, msg, ra, rb, na, nb, hist, a, b, context, origin,
                                     keys, diffs)
            break
        fa2, fb2 = na.fields(), nb.fields()
        for k in [k for k in origin if fa2.get(k) == fb2.get(k)]:
            del origin[k]
        hist.append((ra, rb))
        res.compared += 1
        ra, rb, fa, fb = na, nb, fa2, fb2
        na, nb = a.next(), b.next()
    res.notes = a.notes + b.notes + res.notes
    return res


def _effect(writes: list[tuple[int, bytes]]) -> dict[int, int]:
    """What a list of writes leaves in memory, byte by byte (the order of writes within one
    instruction's work, and a byte written twice, are not part of its result)."""
    out: dict[int, int] = {}
    for addr, data in writes:
        for i, v in enumerate(data):
            out[addr + i] = v
    return out


def _compare(ra: Rec, rb: Rec, na: Rec, nb: Rec, fa: dict[str, int], fb: dict[str, int],
             keys: list[str]) -> tuple[str | None, str, list[FieldDiff]]:
    n = min(len(ra.code or b""), len(rb.code or b""))
    if n and ra.code[:n] != rb.code[:n]:        # type: ignore[index]
        return "code", (f"different instructions at {ra.loc}: A {ra.text or ra.code.hex()}, "
                        f"B {rb.text or rb.code.hex()}"), []
    if (na.cs, na.eip) != (nb.cs, nb.eip):
        return "control", f"the next instruction is at {na.loc} in A and at {nb.loc} in B", []
    fa2, fb2 = na.fields(), nb.fields()
    diffs: list[FieldDiff] = []
    for k in keys:
        va, vb = fa2.get(k), fb2.get(k)
        if va == vb or va is None or vb is None:
            continue
        after = va ^ vb
        before = fa[k] ^ fb[k]
        if k in FLAG_FIELDS:
            bad = after & ~before
        elif before and (va - fa[k] - vb + fb[k]) & _M64 == 0:
            continue            # a value that already differed, changed by the same amount
        else:
            bad = _bytes_mask(after) & ~_bytes_mask(before)
        if bad:
            diffs.append(FieldDiff(k, fa[k], va, fb[k], vb))
    if diffs:
        return "state", "the instruction changes the state differently", diffs
    if ra.writes is not None and rb.writes is not None and ra.writes != rb.writes \
            and _effect(ra.writes) != _effect(rb.writes):
        return "memory", "the instruction writes memory differently", []
    return None, "", []


def _ended(res: DiffResult, ra: Rec, rb: Rec, na: Rec | None, nb: Rec | None,
           hist: deque[tuple[Rec, Rec]], context: int) -> None:
    a, b = res.a, res.b
    if na is None and nb is None:
        return
    gone, other, nxt = (a, b, nb) if na is None else (b, a, na)
    if nxt is None or nxt.final is not None:
        return                  # the other side has only its final state left
    if gone.stopped:
        res.divergence = _report("end", f"{gone.label} stops ({gone.end_reason}"
                                 + (f": {gone.end_message}" if gone.end_message else "")
                                 + f") while {other.label} executes on", ra, rb,
                                 na, nb, hist, a, b, context, {}, [])
        return
    res.notes.append(f"{gone.label} ends first ({gone.end_reason or 'ended'}); "
                     f"{other.label} goes on from {nxt.where}, not compared")


def _report(kind: str, msg: str, ra: Rec, rb: Rec, na: Rec | None, nb: Rec | None,
            hist: deque[tuple[Rec, Rec]], a: Side, b: Side, context: int,
            origin: dict[str, str], keys: list[str],
            diffs: list[FieldDiff] | None = None) -> Divergence:
    d = Divergence(kind, msg, ra, rb, na, nb, diffs or [], before=list(hist))
    fa, fb = ra.fields(), rb.fields()
    d.already = [(k, fa[k], fb[k], origin.get(k, "")) for k in keys
                 if k in fa and k in fb and fa[k] != fb[k]]
    for side, first, out in ((a, na, d.after_a), (b, nb, d.after_b)):
        r = first
        while r is not None and len(out) < context:
            out.append(r)
            r = side.next() if r.final is None else None
    return d


# -- the report ----------------------------------------------------------------------------
def _hex(name: str, v: int, wide: bool = False) -> str:
    return f"{v:0{hex_width(name, wide)}x}"


def _line(r: Rec) -> str:
    if r.final is not None:
        return f"{r.where:<22} {r.loc}  (end: {r.final})"
    return f"{r.where:<22} {r.loc}  {r.text or '?'}"


def format_result(res: DiffResult) -> list[str]:
    a, b = res.a, res.b
    out = [f"A: {a.path} ({a.kind})", f"B: {b.path} ({b.kind})"]
    sa, sb = res.start_a, res.start_b
    if sa is not None and sb is not None:
        out.append(f"aligned at {sa.loc}: A {sa.where}, B {sb.where}")
    if res.initial:
        out.append("initial state differs (left out until an instruction makes it agree): "
                   + ", ".join(f"{display(k)} {_hex(k, x)}/{_hex(k, y)}"
                               for k, x, y in res.initial))
    shown = res.bios if len(res.bios) <= 5 else [s for s in res.bios if "differ" in s][:10]
    if len(shown) < len(res.bios):
        out.append(f"firmware work skipped {len(res.bios)} times ({res.calls} calls into "
                   f"the BIOS, {len(res.bios) - res.calls} interrupts)"
                   + ("; those after which A and B differ:" if shown else ""))
    for s in shown:
        out.append(f"firmware skipped: {s}")
    for n in res.notes:
        out.append(f"note: {n}")
    d = res.divergence
    if d is None:
        out.append(f"no divergence: {res.compared} instructions compared"
                   + (f" (A to {a.last.where}, B to {b.last.where})"
                      if a.last and b.last else ""))
        out.append(f"A ends: {a.end_reason or 'not read to its end'}; "
                   f"B ends: {b.end_reason or 'not read to its end'}")
        return out
    out.append(f"first divergence after {res.compared} instructions compared: {d.message}")
    ta, tb = d.a.text, d.b.text
    if ta and tb:
        ins = ta if ta == tb else f"A: {ta} | B: {tb}"
    elif ta or tb:
        ins = f"{ta or tb}   ({'B' if ta else 'A'} has no instruction bytes"
        ins += ": a QEMU log has them with -d in_asm)" if (b if ta else a).kind == "QEMU log" \
            else ")"
    else:
        ins = "?"
    out.append(f"  A {d.a.where}, B {d.b.where}")
    out.append(f"  at {d.a.loc} (linear {d.a.linear:#x}): {ins}")
    if d.fields:
        out.append(f"  {'field':<12} {'A before -> after':<36} B before -> after")
        for f in d.fields:
            out.append(f"  {display(f.name):<12} "
                       f"{_hex(f.name, f.a_before)} -> {_hex(f.name, f.a_after):<{20}} "
                       f"{_hex(f.name, f.b_before)} -> {_hex(f.name, f.b_after)}")
    if d.kind == "memory":
        out.append("  A writes " + _writes(d.a.writes) + "; B writes " + _writes(d.b.writes))
    if d.already:
        out.append("  already different before it: " + ", ".join(
            f"{display(k)} {_hex(k, x)}/{_hex(k, y)}" + (f" ({o})" if o else "")
            for k, x, y, o in d.already))
    if d.before:
        out.append("  before:")
        for x, y in d.before:
            out.append(f"    A {_line(x)}   | B {y.where}")
    out.append(f"  > A {_line(d.a)}   | B {d.b.where}")
    for lab, rs in (("A", d.after_a), ("B", d.after_b)):
        if rs:
            out.append(f"  then {lab}:")
            out.extend(f"    {_line(r)}" for r in rs)
    return out


def _writes(w: list[tuple[int, bytes]] | None) -> str:
    if not w:
        return "nothing"
    return ", ".join(f"{addr:#x}:{data.hex()}" for addr, data in w)
