"""`bootdbg [IMAGE] [-x FILE] [-ex CMD]... [--batch] [--json OUT] [--fail-on KIND]... [--tui]`

The interactive debugger (the default subcommand).  It opens the image stopped before the first
instruction at 0000:7C00, runs the `-x` files and `-ex` commands in the order given, then gives
the prompt -- prompt_toolkit on a terminal, plain line reading when stdin is a pipe.

With --batch it runs without a terminal and ends when the commands end or the guest stops for
good (with no commands at all it continues until then).  Exit codes: 0 the run ended normally;
1 a catchpoint marked `fail` (--fail-on KIND, `catch ... fail`) fired; 2 a script or input error;
130 interrupted with Ctrl-C.  --json OUT writes the report (`debugger.script.report`).
"""
from __future__ import annotations

import argparse
from typing import Any

from debugger.cli import UserError
from debugger.cli._machine import add_machine_args, config_from_args, disks_from_args
from debugger.cli._sessionargs import Ordered, add_script_args, add_session_args, run_scripted

NAME = "session"
HELP = "debug a boot image interactively or from scripts (the default: bootdbg [IMAGE])"


_Ordered = Ordered            # (older name, still imported elsewhere)


def register(p: argparse.ArgumentParser) -> None:
    add_machine_args(p, image_optional=True)
    add_script_args(p)
    add_session_args(p)
    p.add_argument("--tui", action="store_true",
                   help="start in the full-screen TUI (F1 or q goes to the prompt)")
    p.set_defaults(func=run)


def _open(args: argparse.Namespace) -> Any:
    from debugger.engine.session import Session, SessionError
    from debugger.images import demo_image

    disks, boot = disks_from_args(args, args.image or str(demo_image()))
    try:
        return Session(disks=disks, config=config_from_args(args, boot))
    except SessionError as exc:
        raise UserError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    if args.max_insns is not None and args.max_insns < 1:
        raise UserError("--max-insns must be at least 1")
    session = _open(args)
    return run_scripted(session, args, banner=lambda ctx: _banner(ctx, args), tui=args.tui)


def _banner(ctx: Any, args: argparse.Namespace) -> None:
    from debugger import __version__

    s = ctx.session
    st = s.state()
    ctx.print(f"bootdbg {__version__} — {s.image_path}: stopped before the first instruction "
              f"at {st.cs.selector:04x}:{st.rip & 0xFFFF:04x}. Type help for commands.",
              style="heading")
    ctx.show_context()
