"""`bootdbg trace dump|export|diff`: inspect, export and compare recordings.

- `dump FILE`: what a .bdt file holds, chunk by chunk, and any damage;
- `export FILE --format tenet|jsonl|NAME [--from N] [--to M] [-o OUT] [--plugin P]`: one line
  per instruction (NAME: an exporter a plugin registered);
- `diff A B`: the first instruction where two runs (.bdt recordings or QEMU logs) diverge.
"""
from __future__ import annotations

import argparse
import json
import sys

from debugger.cli import UserError

NAME = "trace"
HELP = "inspect (dump), export (Tenet, JSON lines) and compare (diff) trace files"

EXPORT_HELP = """\
Write the recording's instructions from icount N (default 0) up to M (default: the end) as
text.  A recording without --full holds only checkpoints, so the instructions are re-executed
from it (deterministically, checked against every checkpoint passed); one made with --full is
read from its per-instruction trace (faster; no mr= items, and interrupt delivery and BIOS
services are part of the instruction before them instead of "event" lines).

tenet: Tenet's text format (IDA Pro trace explorer): per line the registers that changed since
the previous line, eip = the linear address (CS.base+EIP) of the instruction about to execute,
and mr=/mw=ADDR:HEX for the memory the previous instruction read and wrote (physical
addresses).  The first line has every register; the last line is the state after the last
instruction.  --extras adds cs_base..gs_base and mode keys, which stock Tenet rejects.

jsonl: one JSON object per line: "start" (full state), "insn" per instruction (icount, cs, eip,
linear, mode, bits, bytes, disasm, changed {field: [old, new]} incl. segment caches, writes
[{address, old, new}]), "event" (BIOS service or interrupt delivery: no instruction), "end".
"""

DIFF_HELP = """\
Compare two runs instruction by instruction and report the first divergence.  Each side is a
.bdt recording or a QEMU log made with -d cpu,nochain and one instruction per translation
block: -singlestep before QEMU 8.1, -accel tcg,one-insn-per-tb=on from 8.1, e.g.

  qemu-system-i386 -singlestep -d in_asm,cpu,nochain -dfilter 0x500..0x9fffe -D qemu.log \\
      -drive file=boot.img,format=raw,if=floppy -boot a -display none

(in_asm adds the instruction bytes; -dfilter keeps the firmware's own work out of the log, and
from 0x500 up also a boot sector that relocates itself, as an MBR does to 0x600).

The sides are aligned at the first instruction at 0000:7C00 (--start).  The states there differ
(SeaBIOS and bootdbg leave different values in some registers): those differences are listed and
left out.  From then on an instruction diverges when a register byte, a flag, a segment-cache
field (selector, base, limit, access rights) or GDTR/IDTR/CRn/DRn/EFER that was equal on both
sides before it differs after it; a value that already differed is compared again once an
instruction makes it equal (changing it by the same amount on both sides, as a push with other
stack pointers does, is no divergence).  Also a divergence: the next instruction at a different
CS:EIP, different instruction bytes, different memory writes (two recordings), one side halting
or faulting for good while the other goes on.  Against a QEMU log, work inside the firmware (an
INT n or far call into the BIOS ROM, a hardware interrupt) is skipped until the side is back at
the caller; the registers a BIOS call leaves different are noted and then left out like the
initial ones.  A REP string instruction's final count check (bootdbg executes it, a QEMU log
made with nochain does not show it) is matched up.  Two recordings run the same firmware: its
work is compared like the rest.

Exit status: 0 no divergence, 1 diverged, 2 bad input.
"""


def register(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="trace_cmd", metavar="ACTION")
    d = sub.add_parser("dump", help="header, chunks and damage of a .bdt file")
    d.add_argument("trace", metavar="TRACE")
    d.add_argument("--chunks", action="store_true", help="list every chunk")
    e = sub.add_parser("export", help="one line per instruction: Tenet or JSON lines",
                       description=EXPORT_HELP, formatter_class=argparse.RawTextHelpFormatter)
    e.add_argument("trace", metavar="TRACE")
    e.add_argument("--format", required=True, metavar="FORMAT",
                   help="tenet, jsonl, or an exporter registered by a --plugin")
    e.add_argument("--plugin", action="append", default=[], metavar="NAME",
                   help="load a plugin first (its exporters become formats; repeatable)")
    e.add_argument("--from", dest="start", type=int, default=0, metavar="N",
                   help="first icount to export (default 0)")
    e.add_argument("--to", dest="stop", type=int, default=None, metavar="M",
                   help="stop before icount M (default: the end of the recording)")
    e.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default stdout)")
    e.add_argument("--arch", choices=("x86", "amd64"), default="x86",
                   help="tenet: 32-bit (EAX..) or 64-bit (RAX..R15) register set")
    e.add_argument("--extras", action="store_true",
                   help="tenet: add segment bases and the mode (not understood by stock Tenet)")
    f = sub.add_parser("diff", help="first divergence between two runs (.bdt or QEMU log)",
                       description=DIFF_HELP, formatter_class=argparse.RawTextHelpFormatter)
    f.add_argument("a", metavar="A", help="a .bdt recording or a QEMU -d cpu,nochain log")
    f.add_argument("b", metavar="B", help="the same")
    f.add_argument("--start", default="0000:7C00", metavar="SEL:OFF",
                   help="align the two sides at their first instruction there (0000:7C00)")
    f.add_argument("--context", type=int, default=3, metavar="N",
                   help="instructions shown before and after the divergence (3)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    cmd = getattr(args, "trace_cmd", None)
    if cmd == "dump":
        return _dump(args)
    if cmd == "export":
        return _export(args)
    if cmd == "diff":
        return _diff(args)
    raise UserError("trace needs an action: dump, export or diff")


def _export(args: argparse.Namespace) -> int:
    from debugger.trace.export import export_jsonl, export_tenet
    from debugger.trace.format import TraceError
    from debugger.trace.istream import InstructionStream

    if args.start < 0:
        raise UserError("--from must be at least 0")
    if args.stop is not None and args.stop < args.start:
        raise UserError(f"--to {args.stop} is before --from {args.start}")
    if args.format not in ("tenet", "jsonl") and not args.plugin:
        raise UserError(f"unknown format {args.format!r}: tenet, jsonl, or an exporter of a "
                        "plugin loaded with --plugin")
    try:
        stream = InstructionStream(args.trace, reads=args.format != "jsonl")
    except TraceError as exc:
        raise UserError(str(exc)) from None
    with stream:
        plugin_export = _plugin_exporter(stream, args) if args.plugin else None
        if stream.damage:
            print(f"bootdbg: warning: {stream.damage}; using what precedes it", file=sys.stderr)
        if args.start > stream.end_icount:
            raise UserError(f"--from {args.start} is past the end of the recording "
                            f"(icount {stream.end_icount})")
        try:
            out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
        except OSError as exc:
            raise UserError(f"{args.output}: cannot write ({exc.strerror or exc})") from None
        failed: OSError | None = None          # the output cannot be written (a full disk)
        try:
            if plugin_export is not None:
                plugin_export(stream, out, start=args.start, stop=args.stop)
            elif args.format == "tenet":
                export_tenet(stream, out, args.start, args.stop, arch=args.arch,
                             extras=args.extras)
            else:
                export_jsonl(stream, out, args.start, args.stop)
        except TraceError as exc:
            raise UserError(str(exc)) from None
        except BrokenPipeError:
            raise
        except OSError as exc:
            failed = exc
        finally:
            if out is not sys.stdout:
                try:
                    out.close()
                except OSError as exc:
                    failed = failed or exc
        if failed is not None:
            raise UserError(f"{args.output or 'standard output'}: cannot write "
                            f"({failed.strerror or failed})", code=1)
        mgr = getattr(stream.rp.session, "plugin_manager", None)
        if plugin_export is not None and mgr is not None and mgr.failures:
            return 1                # the plugin's failure was reported on stderr
    return 0


def _plugin_exporter(stream: object, args: argparse.Namespace) -> object:
    """Load --plugin's into the replay's session; the exporter of --format, if a plugin has it."""
    from debugger.plugins import manager_for
    from debugger.plugins.config import ConfigError, parse_spec
    from debugger.plugins.manager import PluginError
    from debugger.plugins.registry import EXPORTERS

    mgr = manager_for(stream.rp.session)          # type: ignore[attr-defined]
    for spec in args.plugin:
        try:
            mgr.load(*parse_spec(spec))
        except (PluginError, ConfigError) as exc:
            raise UserError(str(exc)) from None
    if args.format in ("tenet", "jsonl"):
        return None
    exporter = EXPORTERS.get(args.format)
    if exporter is None:
        known = ", ".join(["tenet", "jsonl", *sorted(EXPORTERS)])
        raise UserError(f"unknown format {args.format!r}; one of: {known}")
    return exporter.fn


def _diff(args: argparse.Namespace) -> int:
    from debugger.trace.diff import DiffError, diff, format_result, open_side

    try:
        sel, _, off = args.start.partition(":")
        start = (int(sel, 16), int(off, 16))
        if not (0 <= start[0] <= 0xFFFF and 0 <= start[1] <= 0xFFFFFFFF):
            raise ValueError
    except ValueError:
        raise UserError(f"--start {args.start!r}: expected SEL:OFF in hex, e.g. 0000:7C00") \
            from None
    if args.context < 0:
        raise UserError("--context must be at least 0")
    sides = []
    try:
        sides.append(open_side("A", args.a))
        sides.append(open_side("B", args.b))
        res = diff(sides[0], sides[1], start=start, context=args.context)
    except DiffError as exc:
        raise UserError(str(exc)) from None
    finally:
        for s in sides:
            s.close()
    print("\n".join(format_result(res)))
    return 0 if res.same else 1


def _dump(args: argparse.Namespace) -> int:
    from debugger.trace.format import TraceError
    from debugger.trace.reader import TraceReader

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
