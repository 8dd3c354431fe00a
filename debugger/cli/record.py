"""`bootdbg record IMAGE -o run.bdt [-x SCRIPT] [--max-insns N] [--no-embed] [--full
[--compress]]`."""
from __future__ import annotations

import argparse
import signal
import time

from debugger.cli import UserError
from debugger.cli._machine import add_machine_args, config_from_args, disks_from_args

NAME = "record"
SLICE = 1 << 22              # instructions per `cont` (see run)
HELP = "boot an image (or run a script on it) and record the run into a .bdt trace file"


def register(p: argparse.ArgumentParser) -> None:
    add_machine_args(p, image_optional=True)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="trace file to write")
    p.add_argument("-x", dest="script", metavar="SCRIPT",
                   help="run the debugger commands in SCRIPT instead of continuing to the end")
    p.add_argument("--max-insns", type=int, default=None, metavar="N",
                   help="stop after N instructions")
    p.add_argument("--no-embed", action="store_true",
                   help="do not embed the disk images (keep path and SHA-256 only)")
    p.add_argument("--full", action="store_true",
                   help="also record every instruction (register deltas and memory writes)")
    p.add_argument("--compress", action="store_true",
                   help="with --full: zlib the per-instruction trace (a smaller file, slower "
                        "recording)")
    p.add_argument("--interval", type=int, default=None, metavar="N",
                   help="instructions between checkpoints (default 4 M: timeline.DEFAULT_INTERVAL)")
    p.add_argument("--budget-mb", type=int, default=512, metavar="MB",
                   help="memory for checkpoints while recording (default 512)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugger.engine.session import Session, SessionError
    from debugger.images import demo_image
    from debugger.trace.format import TraceError
    from debugger.trace.recorder import Recorder
    from debugger.trace.timeline import DEFAULT_INTERVAL

    if args.compress and not args.full:
        raise UserError("--compress goes with --full (checkpoints are always compressed)")
    if args.max_insns is not None and args.max_insns < 1:
        raise UserError("--max-insns must be at least 1")
    if args.interval is None:
        args.interval = DEFAULT_INTERVAL
    if args.interval < 1000:
        raise UserError("--interval must be at least 1000")
    disks, boot = disks_from_args(args, args.image or str(demo_image()))
    try:
        s = Session(disks=disks, config=config_from_args(args, boot))
        rec = Recorder(s, args.output, embed=not args.no_embed, interval=args.interval,
                       budget=args.budget_mb << 20, full=args.full,
                       compress_trace=args.compress)
    except (SessionError, TraceError) as exc:
        raise UserError(str(exc)) from None
    t0 = time.perf_counter()
    reason, message = "script", ""
    interrupted = []
    in_script = [False]

    def on_sigint(_sig: int, _frame: object) -> None:
        # The recording ends at the end of the current slice, an instruction boundary, with a
        # consistent END.  Neither a KeyboardInterrupt raised anywhere in the engine or the
        # checkpoint writer nor an emu_stop from inside an engine hook (Session.interrupt: it
        # can leave the instruction count one ahead of the state) keeps a file that verifies.
        interrupted.append(True)
        if in_script[0]:
            # Between the script's commands the machine is at rest: stop the script there.
            # (A command that runs the guest maps Ctrl-C to an interrupt of that run.)  Only
            # there: raised while the script was being set up or the file closed, it cut
            # the recording short.
            raise KeyboardInterrupt

    write_error: list[TraceError] = []         # the file could not be written
    old_handler = signal.signal(signal.SIGINT, on_sigint)
    print(f"recording to {args.output} (Ctrl-C stops and keeps a complete recording)",
          flush=True)
    try:
        if args.script:
            from debugger.commands.context import CommandContext
            from debugger.script.interpreter import Interpreter, ScriptError, SessionOver
            from debugger.ui.theme import make_console

            ctx = CommandContext(s, make_console(), batch=True,
                                 err_console=make_console(stderr=True))
            ctx.budget = args.max_insns
            try:
                try:
                    in_script[0] = not interrupted      # (Ctrl-C came before it began)
                    if in_script[0]:
                        Interpreter(ctx).run_file(args.script)
                finally:
                    in_script[0] = False
            except SessionOver:
                pass
            except KeyboardInterrupt:
                reason, message = "interrupt", "interrupted by Ctrl-C"
                interrupted.append(True)
            except ScriptError as exc:
                ctx.error(str(exc))
            if interrupted:
                reason, message = "interrupt", "interrupted by Ctrl-C"
        else:
            while not interrupted:
                left = None if args.max_insns is None else args.max_insns - s.icount
                # In slices, so that Ctrl-C is seen within one (a fraction of a second).
                ev = s.cont(max_insns=SLICE if left is None else min(left, SLICE))
                if ev.kind == "budget" and (left is None or left > SLICE):
                    continue
                if ev.final or ev.kind in ("budget", "interrupt", "timeout"):
                    reason, message = ev.kind, ev.message
                    break
            if interrupted:
                reason, message = "interrupt", "interrupted by Ctrl-C"
    except TraceError as exc:
        write_error.append(exc)
    finally:
        in_script[0] = False
        try:
            info = rec.close(reason, message)
        except TraceError as exc:
            write_error.append(exc)
        finally:
            signal.signal(signal.SIGINT, old_handler)
    if write_error:
        raise UserError(f"{write_error[0]}; the recording is incomplete", code=1)
    dt = time.perf_counter() - t0
    n = max(1, info["instructions"])
    print(f"recorded {info['instructions']:,} instructions in {dt:.2f} s "
          f"({info['instructions'] / dt / 1e6 if dt else 0:.1f} MIPS) to {args.output}: "
          f"{info['checkpoints']} checkpoints, {info['bytes']:,} bytes "
          f"({info['bytes'] / n:.3f} bytes/instruction); stopped: {reason}")
    full = info.get("full")
    if full:
        print(f"per-instruction trace: {full['instructions']:,} instructions in "
              f"{full['chunks']} chunks ({'native' if full['native'] else 'Python'} hooks)")
    return 130 if interrupted else 0
