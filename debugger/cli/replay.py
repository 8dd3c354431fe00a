"""`bootdbg replay run.bdt [--verify] [-x FILE] [-ex CMD]... [--batch]`: replay a recording.

Without --verify it opens the debugger on the recording with time travel on (goto, rsi, rc...).
--verify re-executes the whole recording and compares the state hash at every checkpoint and
the serial output: exit 0 if identical, 1 at the first difference.
"""
from __future__ import annotations

import argparse
import sys

from debugger.cli import UserError

NAME = "replay"
HELP = "replay a .bdt recording in the debugger (time travel on), or --verify it"


def register(p: argparse.ArgumentParser) -> None:
    from debugger.cli.session import _Ordered

    p.add_argument("trace", metavar="TRACE", help="the .bdt file")
    p.add_argument("--verify", action="store_true",
                   help="re-execute and compare every checkpoint's state hash and the serial")
    p.add_argument("-x", dest="x", action=_Ordered, metavar="FILE", help="run commands in FILE")
    p.add_argument("-ex", dest="ex", action=_Ordered, metavar="CMD", help="run CMD")
    p.add_argument("--batch", action="store_true", help="no prompt")
    p.set_defaults(func=run, actions=[])


def run(args: argparse.Namespace) -> int:
    from debugger.trace.format import TraceError
    from debugger.trace.replay import Replay

    try:
        rp = Replay(args.trace)
    except TraceError as exc:
        raise UserError(str(exc)) from None
    if rp.reader.damage:
        print(f"bootdbg: warning: {rp.reader.damage}; using what precedes it", file=sys.stderr)
    if args.verify:
        try:
            res = rp.verify()
        except TraceError as exc:
            raise UserError(str(exc)) from None
        if res.ok:
            print(f"replay identical: {res.matched} checkpoint state hashes, serial output, "
                  f"end at icount {res.end_icount}" + "".join(f"; {d}" for d in res.details))
            return 0
        print(f"replay differs: {res.mismatch}")
        return 1
    from debugger.commands.context import CommandContext
    from debugger.script.interpreter import Interpreter, ScriptError, SessionOver
    from debugger.ui.theme import make_console

    s = rp.session
    ctx = CommandContext(s, make_console(), batch=args.batch,
                         err_console=make_console(stderr=True))
    interp = Interpreter(ctx)
    end = rp.end.get("icount") if rp.end else None
    if not args.batch:
        ctx.print(f"Replaying {args.trace}: {end if end is not None else '?'} instructions "
                  "recorded; time travel on (when, goto N, rsi, rc).", style="heading")
    try:
        for n, (kind, value) in enumerate(args.actions, 1):
            if kind == "x":
                interp.run_file(value)
            else:
                interp.run_lines([(value, ("-ex", n))])
    except SessionOver:
        pass
    except ScriptError as exc:
        ctx.error(str(exc))
        return 2
    if not args.batch and not ctx.quit_requested:
        from debugger.ui.repl import run_pipe, run_prompt

        if sys.stdin.isatty():
            run_prompt(ctx, interp)
        else:
            run_pipe(ctx, interp, sys.stdin)
    return 0
