"""`info SUBCOMMAND`: breakpoints, registers, sreg, cr, gdt, ldt, idt, ivt, tss, mode, bios,
devices, e820, events -- and the Bochs shorthands sreg, regs/r, creg, blist."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from debugger.commands import CommandError, command
from debugger.commands.args import number, value

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext

Sub = Callable[["CommandContext", str], Any]
_SUBS: dict[str, tuple[Sub, str]] = {}
_ALIASES: dict[str, str] = {}


def sub(name: str, help: str, aliases: Iterable[str] = ()) -> Callable[[Sub], Sub]:
    def deco(fn: Sub) -> Sub:
        _SUBS[name] = (fn, help)
        for a in aliases:
            _ALIASES[a] = name
        return fn
    return deco


def resolve_sub(word: str) -> str:
    w = word.lower()
    if w in _SUBS:
        return w
    if w in _ALIASES:
        return _ALIASES[w]
    hits = sorted({n for n in _SUBS if n.startswith(w)} | {
        _ALIASES[a] for a in _ALIASES if a.startswith(w)})
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise CommandError(f'undefined info command: "{word}"; one of: ' + ", ".join(sorted(
            _SUBS)))
    raise CommandError(f'ambiguous info command "{word}": ' + ", ".join(hits))


def complete_info(ctx: "CommandContext", text: str) -> Iterable[str]:
    if " " in text.strip() or (text.endswith(" ") and text.strip()):
        return []
    return sorted(_SUBS)


def _info_help() -> str:
    return "\n".join(f"  info {n:<12} {h}" for n, (_, h) in sorted(_SUBS.items()))


@command("info", aliases=["i", "inf"], category="info", completer=complete_info,
         usage="info WHAT [ARGS]",
         help="Show machine state. WHAT (unique prefixes work):\n"
              "breakpoints registers sreg cr gdt ldt idt ivt tss mode bios devices e820 events\n"
              "tlb mem translate")
def info(ctx: "CommandContext", args: str) -> Any:
    word, _, rest = args.strip().partition(" ")
    if not word:
        return "info what? One of:\n" + _info_help()
    return _SUBS[resolve_sub(word)][0](ctx, rest.strip())


# -- breakpoints, registers ---------------------------------------------------------------------
@sub("breakpoints", "the table of points: numbers, hits, conditions, ignore counts",
     aliases=["b", "break", "watchpoints", "catchpoints"])
def info_breakpoints(ctx: "CommandContext", args: str) -> Any:
    from debugger.commands.args import point_numbers
    from debugger.commands.points import points_table

    return points_table(ctx, point_numbers(ctx, args) if args.strip() else None)


@sub("registers", "general registers and EFLAGS (or the named ones: info registers eax ds.base)",
     aliases=["r", "reg", "regs", "all-registers"])
def info_registers(ctx: "CommandContext", args: str) -> Any:
    from debugger.ui.panes.control import control_registers
    from debugger.ui.panes.registers import registers

    s = ctx.session
    if args.strip():
        t = Text()
        for i, name in enumerate(args.replace(",", " ").split()):
            v = value(ctx, name.lstrip("$"))
            if i:
                t.append("\n")
            t.append(f"{name:<10}", style="reg.name")
            t.append(f"{v:#x}  {v}")
        return t
    st = s.state()
    sel = Text()
    for n in ("cs", "ds", "es", "fs", "gs", "ss"):
        sel.append(f"{n.upper()} ", style="reg.name")
        sel.append(f"{getattr(st, n).selector:04x}  ")
    return Group(registers(st, s.previous_state, ctx.width), sel,
                 control_registers(st, s.previous_state))


@sub("sreg", "segment registers with their hidden caches, checker marks and rule IDs",
     aliases=["segments", "seg"])
def info_sreg(ctx: "CommandContext", args: str) -> Any:
    from debugger.ui.context import violations_by_register
    from debugger.ui.panes.segments import dtr_line, segment_table

    s = ctx.session
    st = s.state()
    try:
        bad = violations_by_register(s.check())
    except Exception:
        bad = {}
    return Group(segment_table(st, s.previous_state, bad), dtr_line(st))


@sub("cr", "control registers CR0/CR2/CR3/CR4/EFER decoded, DR6/DR7", aliases=["creg", "control"])
def info_cr(ctx: "CommandContext", args: str) -> Any:
    from debugger.ui.context import violations_by_register
    from debugger.ui.panes.control import control_registers

    s = ctx.session
    st = s.state()
    try:
        bad = violations_by_register(s.check())
    except Exception:
        bad = {}
    t = Text(f"\nDR6  {st.dr6:08x}  DR7  {st.dr7:08x}  XCR0 n/a  CPL {st.cpl}")
    return Group(control_registers(st, s.previous_state, bad), t)


@sub("mode", "operating mode, code size, CPL, IOPL, paging, A20, icount, checker verdict")
def info_mode(ctx: "CommandContext", args: str) -> Any:
    from debugger.cpustate import CR4_PAE, EFER_LME
    from debugger.ui.context import ContextView
    from debugger.ui.panes.mode import mode_line

    s = ctx.session
    st = s.state()
    try:
        verdict, err = s.check(), ""
    except Exception as exc:
        verdict, err = None, str(exc)
    line = mode_line(ContextView(state=st, verdict=verdict, verdict_error=err,
                                 profile=s.profile, icount=s.icount))
    rows = [("code size", f"{st.bits}-bit (CS.D={st.cs.db} CS.L={st.cs.l})"),
            ("CR0.PE / PG", f"{int(st.pe)} / {int(st.pg)}"),
            ("CR4.PAE", str(int(bool(st.cr4 & CR4_PAE)))),
            ("EFER.LME / LMA", f"{int(bool(st.efer & EFER_LME))} / {int(st.lma)}"),
            ("EFLAGS.VM / IOPL / IF", f"{int(st.vm)} / {st.iopl} / {st.rflags >> 9 & 1}"),
            ("interruptibility", f"{st.interruptibility:#x}")]
    t = Text()
    for k, v in rows:
        t.append(f"\n{k:<22}", style="muted")
        t.append(v)
    return Group(line, t)


# -- descriptor tables ----------------------------------------------------------------------------
def _range(args: str, n: int) -> range:
    parts = args.replace("-", " ").split()
    if not parts:
        return range(n)
    lo = number(parts[0], "index")
    hi = number(parts[1], "index") if len(parts) > 1 else lo
    if lo > hi:
        raise CommandError(f"bad range {args!r}")
    return range(lo, min(hi, n - 1) + 1)


def _descriptor_table(ctx: "CommandContext", args: str, ldt: bool) -> Any:
    from debugger.commands._descriptors import decode_descriptors, read_table
    from debugger.cpustate import Mode

    s = ctx.session
    st = s.state()
    if ldt:
        if st.ldtr.unusable or not st.ldtr.present or not st.ldtr.selector & ~3:
            return (f"LDTR is {'null' if not st.ldtr.selector & ~3 else 'unusable'} "
                    f"(selector {st.ldtr.selector:#06x}): no LDT loaded.")
        base, limit, title = st.ldtr.base, st.ldtr.limit, "LDT"
    else:
        base, limit, title = st.gdtr.base, st.gdtr.limit, "GDT"
    data = read_table(s, base, limit)
    descs = decode_descriptors(data, st.mode in (Mode.LONG, Mode.COMPAT), ldt)
    if args.strip():
        want = set(_range(args, 8192))
        descs = [d for d in descs if d.index in want or (d.selector >> 3) in want]
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="heading",
              title=f"{title} base {base:#x} limit {limit:#x} ({(limit + 1) // 8} entries)",
              title_justify="left")
    for c in ("idx", "sel", "base", "limit", "type", "DPL", "P", "D/B", "G", "L", "AVL", "raw"):
        t.add_column(c, no_wrap=True)
    for d in descs:
        sg = d.seg
        if d.empty:
            t.add_row(str(d.index), f"{d.selector:04x}", "", "", d.text, "", "", "", "", "", "",
                      f"{d.raw:016x}", style="muted")
            continue
        gate = not sg.s and sg.type in (4, 5, 6, 7, 12, 14, 15)
        t.add_row(str(d.index), f"{d.selector:04x}",
                  f"{sg.selector:04x}:{sg.base:x}" if gate else f"{sg.base:08x}",
                  "" if gate else f"{sg.limit:08x}", d.text, str(sg.dpl), str(sg.present),
                  str(sg.db), str(sg.g), str(sg.l), str(sg.avl), f"{d.raw:016x}")
    return t


@sub("gdt", "the guest's GDT decoded (info gdt [FIRST [LAST]])")
def info_gdt(ctx: "CommandContext", args: str) -> Any:
    return _descriptor_table(ctx, args, ldt=False)


@sub("ldt", "the guest's LDT decoded (from the LDTR cache)")
def info_ldt(ctx: "CommandContext", args: str) -> Any:
    return _descriptor_table(ctx, args, ldt=True)


def _gates(ctx: "CommandContext", args: str, force_ivt: bool) -> Any:
    from debugger.commands._descriptors import VECTOR_NAMES, decode_gates, read_table

    s = ctx.session
    st = s.state()
    if force_ivt and st.pe:
        base, limit = 0, 0x3FF
        st_view = st.replace(cr0=st.cr0 & ~1)
    else:
        base, limit, st_view = st.idtr.base, st.idtr.limit, st
    data = read_table(s, base, limit) if not force_ivt or not st.pe else s.read_memory(
        0, 0x400, "physical")
    gates = decode_gates(data, st_view)
    if args.strip():
        want = set(_range(args, 256))
        gates = [g for g in gates if g.vector in want]
    ivt = not st_view.pe
    title = (f"IVT at {base:#x} limit {limit:#x}" if ivt else
             f"IDT base {base:#x} limit {limit:#x}")
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="heading",
              title=title, title_justify="left")
    bios = getattr(s.machine, "bios", None)
    if ivt:
        for c in ("INT", "handler", "linear", "owner", "description"):
            t.add_column(c, no_wrap=c != "description")
        for g in gates:
            lin = (g.selector << 4) + g.offset
            owner = ""
            if bios is not None and bios.vector_at(lin) is not None:
                owner = "BIOS" if bios.vector_at(lin) == g.vector else \
                    f"BIOS INT {bios.vector_at(lin):02X}h"
            elif g.selector == 0xF000:
                owner = "BIOS data"
            else:
                owner = "guest"
            t.add_row(f"{g.vector:02x}", f"{g.selector:04x}:{g.offset:04x}", f"{lin:#07x}",
                      owner, VECTOR_NAMES.get(g.vector, ""))
        return t
    for c in ("vec", "gate", "target", "DPL", "P", "IST", "description"):
        t.add_column(c, no_wrap=c != "description")
    irqs = _pic_vectors(s)
    for g in gates:
        target = f"TSS {g.selector:04x}" if g.kind == "task" else f"{g.selector:04x}:{g.offset:x}"
        t.add_row(f"{g.vector:02x}", g.kind if g.raw else "empty",
                  target if g.raw else "", str(g.dpl), str(g.present),
                  str(g.ist) if g.ist else "", pm_vector_name(g.vector, irqs),
                  style="" if g.raw else "muted")
    return t


# The SDM's names of the protected-mode exception vectors (Vol. 3A, Table 6-1).
PM_VECTORS = {0: "#DE divide error", 1: "#DB debug", 2: "NMI", 3: "#BP breakpoint",
              4: "#OF overflow", 5: "#BR BOUND range exceeded", 6: "#UD invalid opcode",
              7: "#NM device not available", 8: "#DF double fault",
              9: "coprocessor segment overrun (reserved)", 10: "#TS invalid TSS",
              11: "#NP segment not present", 12: "#SS stack-segment fault",
              13: "#GP general protection", 14: "#PF page fault", 15: "(reserved)",
              16: "#MF x87 FPU error", 17: "#AC alignment check", 18: "#MC machine check",
              19: "#XM SIMD floating-point", 20: "#VE virtualization exception",
              21: "#CP control protection"}


def _pic_vectors(s: Any) -> dict[int, int]:
    """{vector: IRQ line} as the two 8259s are programmed now."""
    pic = getattr(getattr(s.machine, "devices", None), "pic", None)
    out: dict[int, int] = {}
    for chip, first in ((getattr(pic, "master", None), 0), (getattr(pic, "slave", None), 8)):
        base = getattr(chip, "base", None)
        if isinstance(base, int):
            for line in range(8):
                out.setdefault((base + line) & 0xFF, first + line)
    return out


def pm_vector_name(vector: int, irqs: dict[int, int]) -> str:
    """A protected-mode vector's name: the SDM's exception, and the IRQ the PICs send there."""
    names = []
    if vector < 32:
        names.append(PM_VECTORS.get(vector, "(reserved)"))
    if vector in irqs:
        names.append(f"IRQ {irqs[vector]}")
    return " / ".join(names)


@sub("idt", "the IDT's gates decoded (16/32/64-bit); in real mode the IVT")
def info_idt(ctx: "CommandContext", args: str) -> Any:
    return _gates(ctx, args, force_ivt=False)


@sub("ivt", "the real-mode interrupt vector table (at physical 0)")
def info_ivt(ctx: "CommandContext", args: str) -> Any:
    return _gates(ctx, args, force_ivt=True)


@sub("tss", "the current task-state segment (SS0:ESP0 ..., I/O map base)")
def info_tss(ctx: "CommandContext", args: str) -> Any:
    from debugger.commands._descriptors import TSS16, TSS32, TSS64
    from debugger.cpustate import Mode

    s = ctx.session
    st = s.state()
    tr = st.tr
    if tr.unusable or not tr.present or tr.s:
        return f"TR ({tr.selector:#06x}) does not hold a TSS."
    if st.mode in (Mode.LONG, Mode.COMPAT):
        fmt, kind = TSS64, "64-bit"
    elif tr.type in (1, 3):
        fmt, kind = TSS16, "16-bit"
    else:
        fmt, kind = TSS32, "32-bit"
    size = max(off + n for _, off, n in fmt)
    data = s.read_memory(tr.base, size)
    t = Text(f"{kind} TSS at {tr.base:#x} limit {tr.limit:#x} (TR {tr.selector:04x}, "
             f"{'busy' if tr.type & 2 else 'available'})", style="heading")
    fields = {name: int.from_bytes(data[off:off + n], "little") for name, off, n in fmt}
    for i, (name, off, n) in enumerate(fmt):
        t.append("\n" if i % 4 == 0 else "   ")
        t.append(f"{name:>6} ", style="reg.name")
        t.append(f"{fields[name]:0{2 * n}x}")
    if "ss0" in fields:
        sp0 = fields.get("esp0", fields.get("sp0", 0))
        t.append(f"\nring-0 stack SS0:ESP0 = {fields['ss0']:04x}:{sp0:x}", style="heading")
    if "iomap" in fields:
        io = fields["iomap"]
        inside = io <= tr.limit
        t.append(f"\nI/O map base {io:#x} ({'inside' if inside else 'beyond'} the TSS limit"
                 f"{'' if inside else ': every port needs IOPL'})")
    return t


# -- machine --------------------------------------------------------------------------------------
@sub("bios", "BIOS calls serviced so far and the latest BIOS events")
def info_bios(ctx: "CommandContext", args: str) -> Any:
    m = ctx.session.machine
    n = number(args, "count") if args.strip() else 10
    calls = getattr(m.bios, "calls", 0)
    evs = [e for e in m.events if e.kind.startswith("bios")][-n:]
    t = Text(f"BIOS calls serviced: {calls}", style="heading")
    for e in evs:
        t.append(f"\n[{e.icount}] ", style="event.icount")
        t.append(f"{e.kind}: ", style="event.kind")
        t.append(e.message)
    if not evs:
        t.append("\n(no BIOS events logged)", style="muted")
    return t


@sub("e820", "the BIOS E820 memory map (what INT 15h AX=E820h returns)", aliases=["memmap"])
def info_e820(ctx: "CommandContext", args: str) -> Any:
    try:
        from debugger.machine.bios.services.int15 import memory_map
    except ImportError as exc:
        raise CommandError(f"the BIOS memory map is not available: {exc}") from None
    names = {1: "usable", 2: "reserved", 3: "ACPI reclaimable", 4: "ACPI NVS", 5: "bad"}
    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="heading")
    for c in ("base", "end", "length", "type"):
        t.add_column(c, no_wrap=True)
    for base, length, kind in memory_map(ctx.session.machine):
        t.add_row(f"{base:#011x}", f"{base + length - 1:#011x}", f"{length:#x}",
                  f"{kind} {names.get(kind, '')}".strip())
    return t


@sub("events", "the machine's event log (info events [N] [KIND])", aliases=["log"])
def info_events(ctx: "CommandContext", args: str) -> Any:
    m = ctx.session.machine
    n, kind = 20, None
    for w in args.split():
        if w == "all":
            n = 1 << 30
        elif w[0].isdigit():
            n = number(w, "count")
        else:
            kind = w
    evs = [e for e in m.events if kind is None or e.kind.startswith(kind)][-n:]
    if not evs:
        return "No events" + (f" of kind {kind!r}" if kind else "") + " yet."
    from debugger.ui.panes.events import events_text

    return events_text(evs, getattr(ctx.session, "symbols", None))


@sub("devices", "PIC masks/IRR/ISR, PIT counters, A20, UART, CRTC cursor, ...",
     aliases=["device"])
def info_devices(ctx: "CommandContext", args: str) -> Any:
    from debugger.commands._devices import devices_report

    return devices_report(ctx.session, args.strip())


# -- Bochs shorthands ------------------------------------------------------------------------------
@command("sreg", category="info", usage="sreg",
         help="Segment registers with their hidden caches (info sreg).")
def sreg(ctx: "CommandContext", args: str) -> Any:
    return info_sreg(ctx, args)


@command("registers", aliases=["regs", "r", "reg"], category="info", usage="registers [NAMES]",
         help="General registers (info registers).")
def regs(ctx: "CommandContext", args: str) -> Any:
    return info_registers(ctx, args)


@command("creg", category="info", usage="creg", help="Control registers (info cr).")
def creg(ctx: "CommandContext", args: str) -> Any:
    return info_cr(ctx, args)


@command("blist", category="info", usage="blist", help="List points (info breakpoints).")
def blist(ctx: "CommandContext", args: str) -> Any:
    return info_breakpoints(ctx, args)
