"""`bootdbg gdbserver IMAGE [--listen HOST:PORT] [--once]`: let gdb, IDA or Ghidra drive bootdbg.

The guest is stopped before its first instruction at 0000:7C00.  Clients are served one after
another (a client that disconnects leaves the machine as it was for the next); --once ends after
the first.  Port 0 picks a free port; the line `Listening on HOST:PORT` tells which.  --record
turns time travel on, so gdb's reverse-stepi / reverse-continue work (bs / bc packets).
It takes the session options of a live session (`debugger.cli._sessionargs`): --json OUT writes
the report when the server ends, and --fail-on KIND makes it exit 1 if that catchpoint fired.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from debugger.cli import UserError
from debugger.cli._machine import add_machine_args, config_from_args, disks_from_args
from debugger.cli._sessionargs import (
    add_session_args, load_plugins, prepare_session, write_json,
)
from debugger.gdb import command as _gdbserver_command  # noqa: F401  (registers `gdbserver`)

NAME = "gdbserver"
HELP = "serve the GDB remote protocol for an image (gdb: target remote 127.0.0.1:1234)"


def register(p: argparse.ArgumentParser) -> None:
    add_machine_args(p, image_optional=True)
    p.add_argument("--listen", default="127.0.0.1:1234", metavar="HOST:PORT",
                   help="address to listen on (default 127.0.0.1:1234; loopback unless you "
                        "name another address)")
    p.add_argument("--once", action="store_true", help="exit when the first client leaves")
    p.add_argument("--record", action="store_true",
                   help="turn time travel on from the start, so gdb can reverse-stepi and "
                        "reverse-continue (bs/bc packets)")
    p.add_argument("--symbol-file", metavar="FILE",
                   help="load symbols (ELF, nasm map/listing, ADDRESS NAME list); an ELF is also "
                        "handed to gdb (qXfer:exec-file), which then loads its symbols itself")
    add_session_args(p)
    p.add_argument("-q", "--quiet", action="store_true", help="do not log stops to stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugger.engine.session import Session, SessionError
    from debugger.gdb.server import ListenError, parse_listen, serve
    from debugger.images import demo_image

    try:
        host, port = parse_listen(args.listen)
    except ListenError as exc:
        raise UserError(str(exc)) from None
    disks, boot = disks_from_args(args, args.image or str(demo_image()))
    try:
        session = Session(disks=disks, config=config_from_args(args, boot))
    except SessionError as exc:
        raise UserError(str(exc)) from None
    prepare_session(session, args)
    if args.symbol_file:
        from debugger.engine.symbols import SymbolError, load

        try:
            syms, _low = load(args.symbol_file)
        except SymbolError as exc:
            raise UserError(str(exc)) from None
        session.symbols.add(syms, args.symbol_file)
    if args.record:
        from debugger.trace.timetravel import attach

        attach(session)
    load_plugins(session, args)

    def on_listen(h: str, p: int) -> None:
        print(f"Listening on {h}:{p}", flush=True)

    def log(text: str) -> None:
        if not args.quiet:
            print(text, file=sys.stderr, flush=True)
    try:
        serve(session, host, port, once=args.once, on_listen=on_listen, log=log)
    except ListenError as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        write_json(session, args, "interrupt", 130)
        raise
    failed = next((ev for ev in session.stops if _fails(session, ev)), None)
    last = session.last_stop
    # (a client's Ctrl-C is a stop like any other, not the server being interrupted)
    code, reason = (1, f"fail:{failed.kind}") if failed is not None else \
        (0, last.kind if last is not None and last.final else "end-of-session")
    write_json(session, args, reason, code)
    return code


def _fails(session: Any, ev: Any) -> bool:
    """Whether the stop is a catchpoint marked `fail` (--fail-on)."""
    from debugger.engine.points import Catchpoint
    from debugger.engine.session import SessionError

    if ev.point is None:
        return False
    try:
        p = session.point(ev.point)
    except SessionError:
        return False
    return isinstance(p, Catchpoint) and bool(p.fail)
