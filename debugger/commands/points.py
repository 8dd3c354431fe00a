"""Breakpoints, watchpoints and catchpoints: break/tbreak/pb, watch/rwatch/awatch/watch io,
catch, delete/disable/enable/condition/ignore, commands ... end, info breakpoints."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable

from rich import box
from rich.table import Table

from debugger.commands import CommandError, command
from debugger.commands.args import number, point_numbers
from debugger.engine.points import (
    CATCH_KINDS, Breakpoint, Catchpoint, ExprWatch, IoWatch, Point, Watchpoint,
)

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext, Origin

_IF = re.compile(r"(?:^|\s+)if(?:\s+|$)")


def _split_if(args: str) -> tuple[str, str | None]:
    m = _IF.search(args)
    if not m:
        return args.strip(), None
    cond = args[m.end():].strip()
    if not cond:
        raise CommandError("'if' needs a condition")
    return args[:m.start()].strip(), cond


def complete_points(ctx: "CommandContext", text: str) -> Iterable[str]:
    return [str(p.number) for p in ctx.session.points]


def _where(ctx: "CommandContext", linear: int) -> str:
    """CS:IP when CS reaches `linear` now, else another seg:off (real/vm86) or the linear
    address alone -- never an offset the CPU could not use; then the symbol, if any."""
    from debugger.engine.addresses import format_location

    s = ctx.session
    name = s.symbols.describe(linear) if s.symbols else None
    return format_location(s.state(), linear) + (f" <{name}>" if name else "")


def _break(ctx: "CommandContext", args: str, *, physical: bool = False, temporary: bool = False,
           linear_only: bool = False) -> str:
    s = ctx.session
    loc, cond = _split_if(args)
    if not loc:
        target: str | int = s.state().pc
        if physical:
            raise CommandError("pb needs a physical address")
    elif linear_only:
        target = s.resolve("*" + loc.lstrip("*"))
    else:
        target = loc
    bp = s.break_at(target, physical=physical, temporary=temporary, condition=cond)
    kind = "Temporary breakpoint" if temporary else "Breakpoint"
    where = f"physical {bp.linear:#x}" if physical else _where(ctx, bp.linear)
    return f"{kind} {bp.number} at {where}" + (f" if {cond}" if cond else "")


@command("break", aliases=["b", "vb", "vbreak", "br"], category="points",
         usage="break [LOCATION] [if COND]",
         help="Set a breakpoint. LOCATION is SEG:OFF (seg:off in the current mode), *LINEAR,\n"
              "or an expression (a linear address); none: the current instruction.\n"
              "Examples: b 0000:7c00   b *0x7c00   b 0x7c50 if ax == 3")
def break_(ctx: "CommandContext", args: str) -> str:
    return _break(ctx, args)


@command("lb", aliases=["lbreak"], category="points", usage="lb LINEAR [if COND]",
         help="Set a breakpoint at a linear address (Bochs lbreak).")
def lbreak(ctx: "CommandContext", args: str) -> str:
    if not _split_if(args)[0]:
        raise CommandError("lb needs a linear address")
    return _break(ctx, args, linear_only=True)


@command("pb", aliases=["pbreak"], category="points", usage="pb PHYSICAL [if COND]",
         help="Set a breakpoint at a physical address (matches whatever linear address maps "
              "there).")
def pbreak(ctx: "CommandContext", args: str) -> str:
    return _break(ctx, args, physical=True)


@command("tbreak", aliases=["tb"], category="points", usage="tbreak [LOCATION] [if COND]",
         help="Set a temporary breakpoint: deleted when it first stops the guest.")
def tbreak(ctx: "CommandContext", args: str) -> str:
    return _break(ctx, args, temporary=True)


_SIZED = re.compile(r"^(byte|word|dword|qword)\s*\[(.+)\]$", re.I)
_SIZES = {"byte": 1, "word": 2, "dword": 4, "qword": 8}


def _watch(ctx: "CommandContext", args: str, access: str) -> str:
    s = ctx.session
    loc, cond = _split_if(args)
    space = "linear"
    if loc.startswith("-p ") or loc.startswith("-l "):
        space = "physical" if loc.startswith("-p") else "linear"
        loc = loc[3:].strip()
    if not loc:
        raise CommandError("watch needs an address or an expression")
    if access == "write" and re.match(r"^io(\s|$)", loc):
        return _watch_io(ctx, loc[2:].strip(), cond)
    m = _SIZED.match(loc)
    length = 1
    if m:
        length, target = _SIZES[m.group(1).lower()], m.group(2)
    else:
        parts = loc.rsplit(None, 1)
        if len(parts) == 2 and re.fullmatch(r"(0x[0-9a-fA-F]+|\d+)", parts[1]):
            target, length = parts[0], number(parts[1], "length")
        else:
            target = loc
    memory = bool(m) or target.startswith("*") or ":" in target or re.fullmatch(
        r"(0x[0-9a-fA-F]+|\d+|[0-9a-fA-F]+h)", target.strip()) is not None or space != "linear"
    if not memory:
        if access != "write":
            raise CommandError(f"{'rwatch' if access == 'read' else 'awatch'} needs a memory "
                               "address (e.g. *0x500, ds:0x10, word[0x500])")
        w: Point = s.watch_expr(target)
        if cond:
            s.condition(w.number, cond)
        return f"Watchpoint {w.number}: {target} (value {w.last_value:#x})"  # type: ignore
    if space == "linear" and not target.startswith("*") and ":" not in target:
        target = "*" + target
    if space == "physical":
        target = target.lstrip("*")
    w = s.watch(target, length, access, space, cond)
    verb = {"write": "Watchpoint", "read": "Read watchpoint", "access": "Access watchpoint"}
    return f"{verb[access]} {w.number}: {w.describe()}" + (f" if {cond}" if cond else "")


def _watch_io(ctx: "CommandContext", args: str, cond: str | None) -> str:
    parts = args.split()
    if not parts:
        raise CommandError("watch io needs a port or a range, e.g. watch io 0x3f8 or "
                           "watch io 0x60-0x64 in")
    first_s, _, last_s = parts[0].partition("-")
    first = number(first_s, "port")
    last = number(last_s, "port") if last_s else first
    direction = parts[1].lower() if len(parts) > 1 else "both"
    if len(parts) > 2:
        raise CommandError("watch io PORT[-LAST] [in|out|both] [if VALUE-EXPR]")
    w = ctx.session.watch_io(first, last, direction, cond)
    return f"I/O watchpoint {w.number}: {w.describe()}" + (f" if {cond}" if cond else "")


@command("watch", category="points", usage="watch LOCATION [LEN] | watch EXPR | watch io PORT",
         help="Stop when memory is written (watch *0x500 2, watch word[ds:si], watch -p 0xb8000"
              " 160),\nwhen a register or field changes value (watch eax, watch ds.base), or on "
              "port I/O\n(watch io 0x3f8, watch io 0x60-0x64 in [if $value == 0xfe]).")
def watch(ctx: "CommandContext", args: str) -> str:
    return _watch(ctx, args, "write")


@command("rwatch", category="points", usage="rwatch LOCATION [LEN]",
         help="Stop when memory is read.")
def rwatch(ctx: "CommandContext", args: str) -> str:
    return _watch(ctx, args, "read")


@command("awatch", category="points", usage="awatch LOCATION [LEN]",
         help="Stop when memory is read or written.")
def awatch(ctx: "CommandContext", args: str) -> str:
    return _watch(ctx, args, "access")


def complete_catch(ctx: "CommandContext", text: str) -> Iterable[str]:
    words = text.split()
    if len(words) == 0 or (len(words) == 1 and not text.endswith(" ")):
        return list(CATCH_KINDS)
    kind = words[0]
    if kind in ("vmx-invalid", "vmx-valid"):
        try:
            from debugger.checks import PROFILES
            return list(PROFILES) + ["fail"]
        except ImportError:
            return ["fail"]
    if kind == "vm86":
        return ["enter", "leave", "both", "fail"]
    if kind == "sreg":
        return ["es", "cs", "ss", "ds", "fs", "gs", "fail"]
    if kind == "cr":
        return ["cr0", "cr3", "cr4", "efer", "fail"]
    if kind == "dtr":
        return ["gdtr", "idtr", "ldtr", "tr", "fail"]
    return ["fail"]


@command("catch", category="points", completer=complete_catch,
         usage="catch KIND [ARGS...] [fail]",
         help="Stop on an event. KIND: " + ", ".join(CATCH_KINDS) + ".\n"
              "catch vm86 [enter|leave]   catch vmx-invalid [PROFILE...]   catch int 0x13 [AH]\n"
              "catch sreg [ds ...]   catch cr [cr0 ...]   catch io [PORT [LAST]]   "
              "catch exception [VEC]\n"
              "catch bios [VEC [AH]] stops on the call, before the service runs: CS:IP is the "
              "BIOS entry stub (F000:xxxx) and the registers are those the guest passed (AH = "
              "function); 'finish', 'nexti' or 'stepi' run the service and the stub's IRET and "
              "stop after the guest's INT.\n'fail' at the end makes a batch run exit with code 1 "
              "when it fires.")
def catch(ctx: "CommandContext", args: str) -> str:
    words = args.split()
    if not words:
        raise CommandError("catch needs a kind: " + ", ".join(CATCH_KINDS))
    fail = words[-1].lower() == "fail"
    if fail:
        words = words[:-1]
    if not words:
        raise CommandError("catch needs a kind before 'fail'")
    cp = ctx.session.catch(words[0].lower(), *words[1:], fail=fail)
    return f"Catchpoint {cp.number} ({cp.describe()})"


@command("modebp", category="points", usage="modebp",
         help="Stop at every CPU mode change (Bochs modebp; same as catch mode).")
def modebp(ctx: "CommandContext", args: str) -> str:
    return catch(ctx, "mode")


@command("delete", aliases=["d", "del", "bpdel"], category="points", completer=complete_points,
         usage="delete [N...]", help="Delete points N... (no argument: all of them).")
def delete(ctx: "CommandContext", args: str) -> str:
    s = ctx.session
    if not args.strip():
        n = len(s.points)
        s.delete()
        return f"Deleted all {n} breakpoints, watchpoints and catchpoints." if n else \
            "No breakpoints, watchpoints or catchpoints to delete."
    nums = point_numbers(ctx, args)
    for n in nums:
        s.delete(n)
    return "Deleted " + ", ".join(map(str, nums)) + "."


def _enable(ctx: "CommandContext", args: str, on: bool) -> str:
    s = ctx.session
    nums = point_numbers(ctx, args) if args.strip() else [p.number for p in s.points]
    for n in nums:
        s.enable(n, on)
    word = "Enabled" if on else "Disabled"
    return f"{word} " + (", ".join(map(str, nums)) if nums else "nothing") + "."


@command("disable", aliases=["bpd"], category="points", completer=complete_points,
         usage="disable [N...]", help="Disable points N... (no argument: all).")
def disable(ctx: "CommandContext", args: str) -> str:
    return _enable(ctx, args, False)


@command("enable", aliases=["bpe"], category="points", completer=complete_points,
         usage="enable [N...]", help="Enable points N... (no argument: all).")
def enable(ctx: "CommandContext", args: str) -> str:
    return _enable(ctx, args, True)


@command("condition", aliases=["cond"], category="points", completer=complete_points,
         usage="condition N [EXPR]",
         help="Stop at point N only when EXPR is non-zero; no EXPR removes the condition.")
def condition(ctx: "CommandContext", args: str) -> str:
    num, _, expr = args.strip().partition(" ")
    if not num:
        raise CommandError("condition needs a point number")
    found = point_numbers(ctx, num)
    if len(found) != 1:
        raise CommandError(f"condition needs one point number, not {num!r}")
    n = found[0]
    ctx.session.condition(n, expr.strip() or None)
    return f"Point {n} now unconditional." if not expr.strip() else \
        f"Point {n} stops only if {expr.strip()}."


@command("ignore", category="points", completer=complete_points, usage="ignore N COUNT",
         help="Let point N pass COUNT times before it stops the guest.")
def ignore(ctx: "CommandContext", args: str) -> str:
    parts = args.split()
    if len(parts) != 2:
        raise CommandError("usage: ignore N COUNT")
    found = point_numbers(ctx, parts[0])
    if len(found) != 1:
        raise CommandError(f"ignore needs one point number, not {parts[0]!r}")
    n = found[0]
    c = number(parts[1], "count")
    if c < 0:
        raise CommandError("count must not be negative")
    ctx.session.ignore(n, c)
    return f"Will ignore next {c} crossings of point {n}."


@command("commands", category="points", block=True, completer=complete_points,
         usage="commands [N...]\n  COMMAND...\nend",
         help="Give points N... (default: the last one set) a command list, run after each stop"
              "\nthere. A first line 'silent' suppresses the stop report. An empty list clears.")
def commands(ctx: "CommandContext", args: str, body: list[tuple[str, "Origin"]] | None = None
             ) -> None:
    s = ctx.session
    if args.strip():
        nums = point_numbers(ctx, args)
    else:
        if not len(s.points):
            raise CommandError("no breakpoint, watchpoint or catchpoint to attach commands to")
        nums = [max(p.number for p in s.points)]
    lines = [t.strip() for t, _ in (body or []) if t.strip() and not t.strip().startswith("#")]
    silent = bool(lines) and lines[0] == "silent"
    if silent:
        lines = lines[1:]
    for n in nums:
        p = s.point(n)
        p.commands = list(lines)
        p.silent = silent


def _what(p: Point) -> str:
    if isinstance(p, Breakpoint):
        return (f"{'physical' if p.physical else 'linear'} {p.linear:#x}"
                + (f" ({p.location})" if p.location and p.location != hex(p.linear) else ""))
    return p.describe()


def _type(p: Point) -> str:
    if isinstance(p, Breakpoint):
        return "breakpoint"
    if isinstance(p, Watchpoint):
        return {"write": "hw watchpoint", "read": "read watchpoint",
                "access": "acc watchpoint"}[p.access]
    if isinstance(p, IoWatch):
        return "io watchpoint"
    if isinstance(p, ExprWatch):
        return "value watchpoint"
    if isinstance(p, Catchpoint):
        return "catchpoint"
    return p.kind


def points_table(ctx: "CommandContext", numbers: list[int] | None = None) -> Any:
    pts = [p for p in ctx.session.points if numbers is None or p.number in numbers]
    if not pts:
        return "No breakpoints, watchpoints or catchpoints."
    from rich.console import Group
    from rich.text import Text

    t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="heading")
    for c in ("Num", "Type", "Disp", "Enb", "What", "Hits", "Ignore", "Condition"):
        t.add_column(c, no_wrap=c != "What")
    extra: list[Text] = []
    for p in pts:
        cond = getattr(p, "condition", None)
        cond_text = getattr(cond, "text", None) or (str(cond) if cond is not None else "")
        t.add_row(str(p.number), _type(p), "del" if p.temporary else "keep",
                  "y" if p.enabled else "n", _what(p), str(p.hits),
                  str(p.ignore) if p.ignore else "", cond_text)
        if p.commands or p.silent:
            body = (["silent"] if p.silent else []) + p.commands
            extra.append(Text(f"  {p.number}: commands: " + "; ".join(body), style="muted"))
    return Group(t, *extra)
