"""Time travel: when, goto, reverse-stepi/step/next, reverse-continue, reverse-finish,
checkpoint, restart, info checkpoints, record.

Time travel is turned on by `record` (and is on in `bootdbg replay`); the first reverse command
turns it on too, but can then only go back to the moment it was turned on.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from debugger.commands import CommandError, command
from debugger.commands.args import count, number
from debugger.commands.info import sub

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext
    from debugger.trace.timetravel import TimeTravel


def _tt(ctx: "CommandContext", *, start: bool = False) -> "TimeTravel":
    tt = getattr(ctx.session, "timeline", None)
    if tt is None:
        if not start:
            raise CommandError("time travel is off; turn it on with 'record' (history starts "
                               "there), or open a recording with bootdbg replay")
        from debugger.trace.timetravel import attach

        tt = attach(ctx.session)
    return tt


def _travel(ctx: "CommandContext", fn: Any) -> None:
    from debugger.trace.timetravel import TimeTravelError

    def go() -> Any:
        try:
            return fn()
        except TimeTravelError as exc:
            raise CommandError(str(exc)) from None
    budget = ctx.budget
    ctx.budget = None            # going back does not spend the instruction budget
    try:
        ctx.run(go, travel=True)
    finally:
        ctx.budget = budget


@command("when", category="running", usage="when",
         help="Show the current position: the instruction count (rr's 'when').")
def when(ctx: "CommandContext", args: str) -> str:
    s = ctx.session
    tt = getattr(s, "timeline", None)
    text = f"Current icount: {s.icount}"
    if tt is not None and tt.tl.keys:
        text += f" (history from {tt.tl.keys[0][0]}, furthest checkpoint " \
                f"{tt.tl.keys[-1][0]})"
    return text


@command("goto", aliases=["run-to-icount"], category="running", usage="goto N",
         help="Go to instruction count N, backwards or forwards (points do not fire).")
def goto(ctx: "CommandContext", args: str) -> None:
    if not args.strip():
        raise CommandError("goto needs an instruction count, e.g. goto 12345")
    n = number(args, "instruction count")
    tt = _tt(ctx, start=True)
    _travel(ctx, lambda: tt.goto(n))


@command("reverse-stepi", aliases=["rsi", "reverse-step", "rs"], category="running",
         repeatable=True, usage="reverse-stepi [N]",
         help="Go back N instructions (default 1).  There are no source lines, so\n"
              "reverse-step is reverse-stepi.")
def reverse_stepi(ctx: "CommandContext", args: str) -> None:
    n = count(args, ctx=ctx)
    tt = _tt(ctx)
    _travel(ctx, lambda: tt.reverse_stepi(n))


@command("reverse-next", aliases=["rni", "rn", "reverse-nexti"], category="running",
         repeatable=True, usage="reverse-next",
         help="Go back one instruction; if that lands at the end of a called routine or\n"
              "handler (after a RET/IRET), go back to the CALL/INT that entered it.")
def reverse_next(ctx: "CommandContext", args: str) -> None:
    if args.strip():
        raise CommandError("reverse-next takes no arguments")
    tt = _tt(ctx)
    s = ctx.session
    sp_now = s.state().sp_linear

    def go() -> Any:
        ev = tt.reverse_stepi(1)
        if ev.kind == "step" and s.state().sp_linear < sp_now:
            ins = s.disassemble(s.state().pc, 1)
            if ins and ins[0].mnemonic.startswith(("ret", "iret")):
                return tt.reverse_finish()
        return ev
    _travel(ctx, go)


@command("reverse-continue", aliases=["rc"], category="running", usage="reverse-continue",
         help="Run backwards to the latest earlier stop of a breakpoint, watchpoint or\n"
              "catchpoint (it shows the state a forward run would have stopped in).")
def reverse_continue(ctx: "CommandContext", args: str) -> None:
    if args.strip():
        raise CommandError("reverse-continue takes no arguments")
    tt = _tt(ctx)
    _travel(ctx, tt.reverse_continue)


@command("reverse-finish", category="running", usage="reverse-finish",
         help="Go back to just before the CALL, INT or interrupt that entered the current\n"
              "routine (the last moment the stack was shallower than now).")
def reverse_finish(ctx: "CommandContext", args: str) -> None:
    if args.strip():
        raise CommandError("reverse-finish takes no arguments")
    tt = _tt(ctx)
    _travel(ctx, tt.reverse_finish)


@command("checkpoint", category="running", usage="checkpoint",
         help="Remember the current position as a numbered checkpoint (restart N goes back).")
def checkpoint(ctx: "CommandContext", args: str) -> str:
    if args.strip():
        raise CommandError("checkpoint takes no arguments")
    tt = _tt(ctx, start=True)
    pt = tt.checkpoint()
    st = ctx.session.state()
    return f"Checkpoint {pt.number} at icount {pt.icount}, {st.cs.selector:04x}:{st.rip:x}"


@command("restart", category="running", usage="restart N",
         help="Go back (or forward) to checkpoint N.")
def restart(ctx: "CommandContext", args: str) -> None:
    if not args.strip():
        raise CommandError("restart needs a checkpoint number (info checkpoints lists them)")
    n = number(args.strip().lstrip("#"), "checkpoint number")
    tt = _tt(ctx)
    _travel(ctx, lambda: tt.restart(n))


@sub("checkpoints", "numbered checkpoints and the timeline's automatic ones")
def info_checkpoints(ctx: "CommandContext", args: str) -> Any:
    tt = getattr(ctx.session, "timeline", None)
    if tt is None:
        return "Time travel is off (record turns it on)."
    tl = tt.tl
    lines = [f"{len(tl.keys)} checkpoints, {tl.bytes_used / 1e6:.1f} MB of "
             f"{tl.budget / 1e6:.0f} MB budget, one every {tl.interval:,} instructions"
             + (f" ({tl.thinned} thinned out)" if tl.thinned else "")]
    users = tl.user_points()
    if not users:
        lines.append("No numbered checkpoints (checkpoint makes one).")
    for p in users:
        lines.append(f"  {p.number:>3}  icount {p.icount}")
    return "\n".join(lines)


@command("record", category="running", usage="record [FILE [--full [--compress]] | stop]",
         help="Turn time travel on from here; with FILE also write a trace file (closed by\n"
              "'record stop' or at exit); --full adds every instruction (register deltas and\n"
              "memory writes) to the file, --compress zlibs that part (smaller, slower).")
def record(ctx: "CommandContext", args: str) -> str:
    words = args.split()
    full = "--full" in words
    compress = "--compress" in words
    words = [w for w in words if w not in ("--full", "--compress")]
    if len(words) > 1 or any(w.startswith("-") for w in words) or (compress and not full):
        raise CommandError("usage: record [FILE [--full [--compress]] | stop]")
    arg = words[0] if words else ""
    s = ctx.session
    rec = getattr(s, "recorder", None)
    if arg == "stop":
        if rec is None:
            raise CommandError("not recording to a file")
        info = rec.close("stopped", "record stop")
        s.recorder = None     # type: ignore[attr-defined]
        extra = f", every instruction ({info['full']['instructions']})" if info.get("full") \
            else ""
        return f"Trace written: {info['instructions']} instructions, " \
               f"{info['checkpoints']} checkpoints, {info['bytes']} bytes{extra}"
    if not arg:
        if full:
            raise CommandError("record --full needs a FILE to write the trace to")
        tt = _tt(ctx, start=True)
        return f"Time travel on (history from icount {tt.tl.keys[0][0]})."
    if rec is not None:
        raise CommandError("already recording to a file (record stop first)")
    from debugger.trace.format import TraceError
    from debugger.trace.recorder import Recorder

    try:
        s.recorder = Recorder(s, arg, full=full,   # type: ignore[attr-defined]
                              compress_trace=compress)
    except TraceError as exc:
        raise CommandError(str(exc)) from None
    return f"Recording to {arg} from icount {s.icount}" + (
        " (every instruction)." if full else ".")
