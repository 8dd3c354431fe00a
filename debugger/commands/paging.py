"""Paging: `info tlb` / `info mem` (the mappings, as QEMU's monitor prints them), and `page ADDR`
(Bochs) / `info translate ADDR`: one walk level by level, with the physical address or the #PF
each access would raise."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from debugger.commands import CommandError, command
from debugger.commands.info import sub
from debugger.engine import paging

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext

_SCHEMES = {"32-bit": "32-bit paging", "PAE": "PAE paging", "4-level": "4-level paging"}


def _header(ctx: "CommandContext", what: str, n: int) -> str:
    st = ctx.session.state()
    regs = (st.cr0, st.cr3, st.cr4, st.efer)
    return f"{_SCHEMES[paging.scheme(regs)]}, CR3={st.cr3:#x}: {n} {what}"


def _paging_off(ctx: "CommandContext") -> str | None:
    st = ctx.session.state()
    if st.pg:
        return None
    return (f"paging is off ({st.mode.value if hasattr(st.mode, 'value') else st.mode}): "
            f"linear addresses are physical{'' if st.a20 else ', bit 20 cleared (A20 masked)'}")


@sub("tlb", "every present page: linear, physical, the leaf entry's bits (as QEMU's info tlb)")
def info_tlb(ctx: "CommandContext", args: str) -> Any:
    off = _paging_off(ctx)
    if off:
        return off
    maps = ctx.session.mappings()
    lines = [_header(ctx, "pages" if len(maps) != 1 else "page", len(maps)) +
             " (X=NX G=global P=large D=dirty A=accessed C=PCD T=PWT U=user W=writable)"]
    lines += [paging.qemu_tlb_line(m) for m in maps]
    return Text("\n".join(lines))


@sub("mem", "the mapped linear ranges with their permissions (as QEMU's info mem)",
     aliases=["mappings"])
def info_mem(ctx: "CommandContext", args: str) -> Any:
    off = _paging_off(ctx)
    if off:
        return off
    rs = paging.ranges(ctx.session.mappings())
    lines = [_header(ctx, "ranges" if len(rs) != 1 else "range", len(rs))]
    lines += [paging.qemu_mem_line(r) for r in rs]
    return Text("\n".join(lines))


def _entry_line(w: paging.Walk, lv: paging.Level) -> str:
    digits = 2 * lv.width
    pdpte = w.scheme == "PAE" and lv.name == "PDPTE"
    head = (f"  {lv.name:<5} [{lv.index:#05x}] at physical {lv.address:#0{digits + 2}x} = "
            f"{lv.value:#0{digits + 2}x}  {lv.bits(pae_pdpte=pdpte):<22}")
    if not lv.present:
        return head + " not present"
    if lv.reserved:
        return head + " reserved bit set"
    if lv.leaf:
        size = "1 GiB" if lv.name == "PDPTE" else ("4 KiB" if lv.name == "PTE" else (
            "4 MiB" if lv.width == 4 else "2 MiB"))
        return head + f" -> page {lv.target:#x} ({size})"
    return head + f" -> table {lv.target:#x}"


def _access_line(ctx: "CommandContext", linear: int, cpl: int) -> str:
    parts = []
    for access in ("read", "write", "fetch"):
        w = ctx.session.translate(linear, access, cpl)
        parts.append(f"{access} ok" if w.ok else
                     f"{access} #PF error code {w.error_code:#x}" if w.error_code is not None
                     else f"{access} {w.fault}")
    return f"CPL {cpl}: " + ", ".join(parts)


def describe(ctx: "CommandContext", linear: int) -> str:
    s = ctx.session
    st = s.state()
    if not st.pg:
        w = s.translate(linear)
        a20 = "" if st.a20 else " (A20 masked: bit 20 cleared)"
        return f"paging is off: linear {linear:#x} is physical {w.physical:#x}{a20}"
    w = s.translate(linear)
    bits = []
    if w.scheme == "32-bit":
        bits.append(f"CR4.PSE={int(bool(st.cr4 & 0x10))}")
    else:
        bits.append(f"EFER.NXE={int(bool(st.efer & (1 << 11)))}")
    bits.append(f"CR0.WP={int(bool(st.cr0 & (1 << 16)))}")
    lines = [f"linear {linear:#x}: {_SCHEMES[w.scheme]}, CR3={w.cr3:#x} ({', '.join(bits)})"]
    lines += [_entry_line(w, lv) for lv in w.levels]
    if w.physical is None and w.error_code is None:
        lines.append(f"-> {w.fault}")
        return "\n".join(lines)
    if w.physical is None:
        lines.append(f"-> #PF error code {w.error_code:#x} ({paging.error_code_text(w.error_code)})"
                     f": {w.fault}")
    else:
        perms = ["user" if w.user else "supervisor", "writable" if w.writable else "read-only",
                 "executable" if w.executable else "no-execute"]
        lines.append(f"-> physical {w.physical:#x} ({', '.join(perms)})")
        cpls = sorted({st.cpl, 0, 3}) if st.cpl in (0, 3) else [st.cpl, 3]
        lines += [_access_line(ctx, linear, c) for c in cpls]
    return "\n".join(lines)


def reverse(ctx: "CommandContext", phys: int) -> str:
    """The linear addresses that map physical `phys`."""
    st = ctx.session.state()
    if not st.pg:
        return f"paging is off: physical {phys:#x} is linear {phys:#x}"
    hits = [m.linear + (phys - m.physical) for m in ctx.session.mappings()
            if m.physical <= phys < m.physical + m.size]
    if not hits:
        return f"physical {phys:#x} is not mapped at any linear address"
    shown = ", ".join(f"{h:#x}" for h in hits[:16])
    more = f" and {len(hits) - 16} more" if len(hits) > 16 else ""
    return f"physical {phys:#x} is mapped at linear {shown}{more}"


def _translate(ctx: "CommandContext", args: str, cmd: str) -> Any:
    text = args.strip()
    if not text:
        raise CommandError(f"usage: {cmd} ADDRESS (linear, SEG:OFF or an expression; "
                           "-p PHYSICAL for the linear addresses that map it)")
    if text.startswith("-p ") or text.startswith("/p "):
        return Text(reverse(ctx, ctx.session.resolve(text[3:], physical=True)))
    return Text(describe(ctx, ctx.session.resolve(text)))


@sub("translate", "the page walk for ADDRESS level by level, the physical address or the #PF",
     aliases=["page"])
def info_translate(ctx: "CommandContext", args: str) -> Any:
    return _translate(ctx, args, "info translate")


@command("page", category="memory", usage="page ADDRESS | page -p PHYSICAL",
         help="Walk the page tables for a linear ADDRESS (SEG:OFF or an expression too): every\n"
              "entry read with its bits, then the physical address, or the #PF with its error\n"
              "code; and which accesses at CPL 0 and 3 would fault.  -p PHYSICAL lists the\n"
              "linear addresses that map a physical one.  (Bochs; also info translate.)")
def page(ctx: "CommandContext", args: str) -> Any:
    return _translate(ctx, args, "page")

