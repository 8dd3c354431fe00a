"""`bootdbg gdbserver IMAGE [--listen HOST:PORT] [--once]`: let gdb, IDA or Ghidra drive bootdbg.

The guest is stopped before its first instruction at 0000:7C00.  Clients are served one after
another (a client that disconnects leaves the machine as it was for the next); --once ends after
the first.  Port 0 picks a free port; the line `Listening on HOST:PORT` tells which.  --record
turns time travel on, so gdb's reverse-stepi / reverse-continue work (bs / bc packets).
"""
from __future__ import annotations

import argparse
import sys

from debugger.cli import UserError
from debugger.cli._machine import add_machine_args, config_from_args, disks_from_args
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
    p.add_argument("--profile", default=None, metavar="P",
                   help="checker profile for monitor check / catch vmx-* (default vmx)")
    p.add_argument("--plugin", action="append", default=[], metavar="NAME",
                   help="load a plugin (repeatable)")
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
        if args.profile:
            session.set_profile(args.profile)
    except SessionError as exc:
        raise UserError(str(exc)) from None
    if args.record:
        from debugger.trace.timetravel import attach

        attach(session)
    if args.plugin:
        from debugger.plugins import manager_for
        from debugger.plugins.config import ConfigError, parse_spec
        from debugger.plugins.manager import PluginError

        mgr = manager_for(session)
        for spec in args.plugin:
            try:
                mgr.load(*parse_spec(spec))
            except (PluginError, ConfigError) as exc:
                print(f"bootdbg: {exc}", file=sys.stderr)

    def on_listen(h: str, p: int) -> None:
        print(f"Listening on {h}:{p}", flush=True)

    def log(text: str) -> None:
        if not args.quiet:
            print(text, file=sys.stderr, flush=True)
    try:
        serve(session, host, port, once=args.once, on_listen=on_listen, log=log)
    except ListenError as exc:
        raise UserError(str(exc)) from None
    return 0
