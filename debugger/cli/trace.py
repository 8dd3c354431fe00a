"""`bootdbg trace dump FILE`: what a .bdt file holds, chunk by chunk, and any damage."""
from __future__ import annotations

import argparse
import json

from debugger.cli import UserError

NAME = "trace"
HELP = "inspect trace files (dump)"


def register(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="trace_cmd", metavar="ACTION")
    d = sub.add_parser("dump", help="header, chunks and damage of a .bdt file")
    d.add_argument("trace", metavar="TRACE")
    d.add_argument("--chunks", action="store_true", help="list every chunk")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugger.trace.format import TraceError
    from debugger.trace.reader import TraceReader

    if getattr(args, "trace_cmd", None) != "dump":
        raise UserError("trace needs an action: dump")
    try:
        r = TraceReader(args.trace)
    except TraceError as exc:
        raise UserError(str(exc)) from None
    with r:
        h = r.header
        print(f"{args.trace}: bootdbg trace, format version {r.version} "
              f"(written by bootdbg {h.get('bootdbg')}, unicorn {h.get('unicorn')}), "
              f"{r.size:,} bytes, {len(r.entries)} chunks"
              + (", indexed" if r.indexed else ", no index"))
        print("config: " + json.dumps(h.get("config")))
        for d in h.get("disks", []):
            print(f"disk {d.get('name')}: {d.get('size')} bytes, sha256 {d.get('sha256')}, "
                  + ("embedded" if d.get("embedded") else f"from {d.get('path')}"))
        counts: dict[str, int] = {}
        for e in r.entries:
            counts[e.type_name] = counts.get(e.type_name, 0) + 1
        print("chunks: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        try:
            end = r.end()
        except TraceError as exc:
            raise UserError(str(exc)) from None
        if end:
            print(f"end: icount {end.get('icount')}, {end.get('reason')} "
                  f"{end.get('message') or ''}".rstrip())
        if args.chunks:
            for e in r.entries:
                print(f"  #{e.seq:<5} {e.type_name:<10} offset {e.offset:<10} icount "
                      f"{e.icount:<12} {e.length:>9} bytes ({e.raw_length} raw)")
        if r.damage:
            print(f"damage: {r.damage}; the chunks listed precede it and are usable")
            return 1
    return 0
