"""Running the guest: stepi/step, nexti/next, continue, finish, until/advance."""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.commands import CommandError, command
from debugger.commands.args import count

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext


@command("stepi", aliases=["si", "step", "s"], category="running", repeatable=True,
         usage="stepi [N]",
         help="Execute N instructions (default 1), stopping early at any point that fires.\n"
              "There are no source lines here, so step is stepi (as in Bochs).")
def stepi(ctx: "CommandContext", args: str) -> None:
    n = count(args, ctx=ctx)
    ctx.run(lambda: ctx.session.step(ctx.budget_left(n) or n))


@command("nexti", aliases=["ni", "next", "n"], category="running", repeatable=True,
         usage="nexti [N]",
         help="Step over CALL, INT, REP and LOOP instructions N times (default 1).")
def nexti(ctx: "CommandContext", args: str) -> None:
    n = count(args, ctx=ctx)
    for _ in range(n):
        ev = ctx.run(ctx.session.next)
        if ev.kind != "step" or ctx.should_end():
            break


@command("continue", aliases=["c", "cont"], category="running", usage="continue [N]",
         help="Run until a point fires, the guest stops for good, or Ctrl-C.\n"
              "continue N ignores the breakpoint the guest is stopped at N-1 more times.")
def cont(ctx: "CommandContext", args: str) -> None:
    s = ctx.session
    if args.strip():
        n = count(args, ctx=ctx)
        last = s.last_stop
        if last is not None and last.point is not None and n > 1:
            try:
                s.ignore(last.point, n - 1)
                ctx.print(f"Will ignore next {n - 1} crossings of point {last.point}.")
            except Exception:
                pass
    ctx.run(lambda: s.cont(max_insns=ctx.budget_left()))


@command("finish", aliases=["fin"], category="running", usage="finish",
         help="Run until the current function or interrupt handler returns (RET/RETF/IRET).")
def finish(ctx: "CommandContext", args: str) -> None:
    if args.strip():
        raise CommandError("finish takes no arguments")
    ctx.run(ctx.session.finish)


@command("until", aliases=["advance", "rla"], category="running", usage="until LOCATION",
         help="Run until execution reaches LOCATION (seg:off, *linear or an expression);\n"
              "points still fire on the way.")
def until(ctx: "CommandContext", args: str) -> None:
    if not args.strip():
        raise CommandError("until needs a location, e.g. until 0000:7c50 or until *0x7c50")
    s = ctx.session
    addr = s.resolve(args.strip())
    ctx.run(lambda: s.until(addr))


def _restart(ctx: "CommandContext") -> bool:
    """Back to the hand-off state, as gdb starts the program again (asks once it has run)."""
    from debugger.engine.session import SessionError

    s = ctx.session
    if s.icount > 0 and not ctx.confirm("The guest has been started already.\n"
                                        "Start it from the beginning?"):
        ctx.print("Guest not restarted.")
        return False
    travel = getattr(s, "timeline", None) is not None
    try:
        ev = s.restart()
    except SessionError as exc:
        raise CommandError(str(exc)) from None
    ctx.print(f"Starting guest: {s.image_path} at 0000:7c00 (the hand-off state)",
              soft_wrap=True)
    if travel:
        from debugger.trace.timetravel import attach

        attach(s)
        ctx.print("Time travel on again (history from icount 0).")
    ctx.last_start = ev
    return True


@command("run", category="running", usage="run",
         help="Start the guest again from the hand-off state (0000:7C00, the same disks and\n"
              "options) and continue, as gdb's run.  Breakpoints, watchpoints, displays and\n"
              "symbols stay; RAM, disk writes and time-travel history start afresh.  Once the\n"
              "guest has run it asks first (a script, a pipe or --batch answers yes).\n"
              "start (starti) does the same but stops at the first instruction.")
def run(ctx: "CommandContext", args: str) -> None:
    if args.strip():
        raise CommandError("run takes no arguments (the image and options are the session's)")
    if _restart(ctx):
        ctx.run(lambda: ctx.session.cont(max_insns=ctx.budget_left()))


@command("start", aliases=["starti"], category="running", usage="start",
         help="Start the guest again from the hand-off state and stop before its first\n"
              "instruction at 0000:7C00 (gdb's starti; run continues instead).")
def start(ctx: "CommandContext", args: str) -> None:
    if args.strip():
        raise CommandError("start takes no arguments (the image and options are the session's)")
    if _restart(ctx):
        ctx.report_stop(ctx.last_start)
