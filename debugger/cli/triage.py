"""`bootdbg triage SOURCES... [-o results.jsonl|.csv] [--jobs N] [--scheduler ADDRESS] ...`

Runs every image the SOURCES name (files, folders searched recursively for boot images,
@list.txt files) unattended, each in a worker process of its own, and writes one row per image
as it finishes (`debugger.triage`).  Without -o the rows go to stdout as JSON Lines.  Rerunning
with the same -o skips the images already there with the same options.  Ctrl-C finishes the rows
in flight and leaves a valid file.  Exit codes: 0 done (whatever the images did); 2 bad input;
130 interrupted.
"""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from debugger.cli import UserError

NAME = "triage"
HELP = "run a corpus of boot images unattended: one row per image (how far it boots, where " \
       "it first becomes un-enterable)"


def register(p: argparse.ArgumentParser) -> None:
    from debugger.triage.options import (
        DEFAULT_MAX_INSNS,
        DEFAULT_MEMORY_MB,
        DEFAULT_TIMEOUT,
        PROFILE_NAMES,
    )

    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="image file, folder (searched recursively) or @list.txt")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="results file, .jsonl or .csv (default: JSON Lines on stdout)")
    p.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                   help="images at once on this machine (default: every core)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on this Dask distributed cluster (tcp://HOST:PORT); needs "
                        "pip install 'bootdbg[cluster]'")
    p.add_argument("--shared", action="store_true",
                   help="with --scheduler: the workers see the same paths (do not send images)")
    p.add_argument("-x", dest="script", metavar="SCRIPT",
                   help="run the debugger commands in SCRIPT on each image first (as --batch)")
    p.add_argument("--profiles", default=",".join(PROFILE_NAMES), metavar="P,P...",
                   help=f"checker profiles (default {','.join(PROFILE_NAMES)})")
    p.add_argument("--max-insns", type=int, default=DEFAULT_MAX_INSNS, metavar="N",
                   help=f"instructions per image (default {DEFAULT_MAX_INSNS:,})")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                   help=f"wall time per image (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--memory-limit", type=int, default=DEFAULT_MEMORY_MB, metavar="MIB",
                   help="address space per worker process (RLIMIT_AS; Unicorn alone reserves "
                        f"about 3 GiB; default {DEFAULT_MEMORY_MB})")
    p.add_argument("--ram", type=int, default=64, metavar="MIB", help="guest RAM (default 64)")
    p.add_argument("--plugin", action="append", default=[], metavar="NAME",
                   help="load a plugin in every run, NAME[:KEY=VALUE,...] (repeatable); its "
                        "events are the row's plugin findings")
    p.add_argument("--record-on", metavar="KIND",
                   help="keep a .bdt recording of each image where KIND happens (e.g. "
                        "vmx-invalid, vm86-enter, triple-fault), for bootdbg replay")
    p.add_argument("--record-dir", metavar="DIR",
                   help="where --record-on keeps its recordings (default: next to -o)")
    p.add_argument("--fast", action="store_true",
                   help="do not watch mode changes and VM-entry verdicts instruction by "
                        "instruction (much faster on loaders that switch modes often): modes "
                        "and verdicts are those of the first and the last state")
    p.add_argument("--no-summary", action="store_true", help="no summary table at the end")
    p.set_defaults(func=run)


def _options(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from debugger.checks import PROFILES
    from debugger.triage.options import TriageOptions

    profiles = tuple(x for x in args.profiles.replace(" ", ",").split(",") if x)
    for prof in profiles:
        if prof not in PROFILES:
            raise UserError(f"--profiles: unknown profile {prof!r}; one of: "
                            + ", ".join(PROFILES))
    if args.max_insns < 1:
        raise UserError("--max-insns must be at least 1")
    if args.timeout <= 0:
        raise UserError("--timeout must be positive")
    if args.jobs is not None and args.jobs < 1:
        raise UserError("--jobs must be at least 1")
    if not 2 <= args.ram <= 3072:
        raise UserError(f"--ram {args.ram}: choose between 2 and 3072 MiB")
    script = name = None
    if args.script:
        try:
            script = Path(args.script).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"-x {args.script}: cannot read ({getattr(exc, 'strerror', exc)})")
        name = args.script
    record_dir = None
    if args.record_on:
        from debugger.engine.stops import STOP_KINDS

        known = set(STOP_KINDS) | {"vm86-enter", "vm86-leave", "mode", "bios", "disk"}
        if args.record_on not in known:
            raise UserError(f"--record-on {args.record_on}: one of " + ", ".join(sorted(known)))
        base = Path(args.output).parent if args.output else Path(".")
        record_dir = str(Path(args.record_dir) if args.record_dir else base / "recordings")
    return TriageOptions(profiles=profiles, max_insns=args.max_insns, timeout=args.timeout,
                         memory_mb=args.memory_limit, script=script, script_name=name,
                         plugins=tuple(args.plugin), record_on=args.record_on,
                         record_dir=record_dir, ram_mb=args.ram, fast=args.fast)


def run(args: argparse.Namespace) -> int:
    import json

    from debugger.triage import run as triage
    from debugger.triage.executors import ClusterError
    from debugger.triage.output import OutputError, RowWriter, done_keys
    from debugger.triage.sources import SourceError
    from debugger.triage.summary import Progress, summarise, summary_table
    from debugger.ui.theme import make_console

    options = _options(args)
    err = make_console(stderr=True)
    try:
        done = done_keys(args.output) if args.output else set()
        writer = RowWriter(args.output) if args.output else None
    except OutputError as exc:
        raise UserError(str(exc)) from None
    progress = Progress(err)
    rows = []
    interrupted = False
    # Ctrl-C sets a flag the runner reads between rows: no row is cut in the middle of being
    # written, the rows in flight finish, and the file stays valid.
    stop = threading.Event()

    def on_sigint(_sig: int, _frame: object) -> None:
        if stop.is_set():                 # a second Ctrl-C: stop waiting for the rows in flight
            raise KeyboardInterrupt
        stop.set()
        err.print("Ctrl-C: finishing the images in flight (Ctrl-C again to stop at once)")

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        for row in triage(args.sources, options, jobs=args.jobs, scheduler=args.scheduler,
                          shared=args.shared, done=done, on_plan=progress.start, stop=stop):
            if writer is not None:
                writer.write(row)
            else:
                sys.stdout.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
                sys.stdout.flush()
            rows.append(row)
            progress.advance(row)
    except KeyboardInterrupt:
        interrupted = True
    except (SourceError, ClusterError) as exc:
        raise UserError(str(exc)) from None
    finally:
        signal.signal(signal.SIGINT, old)
        progress.stop()
        if writer is not None:
            writer.close()
    if not args.no_summary:
        every = _all_rows(args.output, options.key()) if args.output else rows
        if every:
            err.print(summary_table(summarise(every, options.profiles)))
    if interrupted or stop.is_set():
        err.print(f"interrupted: {len(rows)} row(s) written; run again with the same -o to "
                  "go on")
        return 130
    return 0


def _all_rows(path: str, key: str) -> list[dict]:
    """The summary covers every row of the results file made with these options."""
    from debugger.triage.output import OutputError, read_rows

    try:
        return [r for r in read_rows(path) if r.get("options") == key]
    except OutputError:
        return []
