"""`bootdbg replay run.bdt [--verify] [-x FILE] [-ex CMD]... [--batch] [--json OUT] [--fail-on KIND]`

Without --verify it opens the debugger on the recording with time travel on (goto, rsi, rc...),
with the same session options as a live session (`debugger.cli._sessionargs`): a CI script runs
over a recording as over the guest, with the same JSON report and exit codes.
--verify re-executes the whole recording and compares the state hash at every checkpoint and
the serial output: exit 0 if identical, 1 at the first difference.
"""
from __future__ import annotations

import argparse
import sys

from typing import Any

from debugger.cli import UserError
from debugger.cli._sessionargs import add_script_args, add_session_args, run_scripted

NAME = "replay"
HELP = "replay a .bdt recording in the debugger (time travel on), or --verify it"


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("trace", metavar="TRACE", help="the .bdt file")
    p.add_argument("--verify", action="store_true",
                   help="re-execute and compare every checkpoint's state hash and the serial")
    add_script_args(p)
    add_session_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugger.trace.format import TraceError
    from debugger.trace.replay import Replay

    if args.max_insns is not None and args.max_insns < 1:
        raise UserError("--max-insns must be at least 1")
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
    end = rp.end.get("icount") if rp.end else None

    def banner(ctx: Any) -> None:
        ctx.print(f"Replaying {args.trace}: {end if end is not None else '?'} instructions "
                  "recorded; time travel on (when, goto N, rsi, rc).", style="heading")
    return run_scripted(rp.session, args, banner=banner)
