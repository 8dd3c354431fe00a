"""python -m tests.fuzz KIND|all [--inputs N] [--seconds S] [--seed N] [--no-save] [--supervise]

--supervise runs the campaign in a child process and, if it dies (a crash in native code: no
Python exception to catch), saves the input in hand as a "crash" finding and resumes with the
next input of the same seed."""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time

from tests.fuzz.engine import Finding, campaign, scratch
from tests.fuzz.kinds import NAMES, make


def supervise(name: str, args: argparse.Namespace) -> tuple[int, int]:
    """(inputs tried, findings) of a campaign run in child processes, resumed after a crash."""
    journal = os.path.join(scratch("bootdbg-fuzz-journal-"), name)
    done = findings = 0
    start = time.monotonic()
    while True:
        left_s = None if args.seconds is None else args.seconds - (time.monotonic() - start)
        left_n = None if args.inputs is None else args.inputs - done
        if (left_s is not None and left_s <= 0) or (left_n is not None and left_n <= 0):
            break
        cmd = [sys.executable, "-m", "tests.fuzz", name, "--seed", str(args.seed),
               "--skip", str(done), "--journal", journal]
        cmd += ["--inputs", str(left_n)] if left_n is not None else []
        cmd += ["--seconds", str(left_s)] if left_s is not None else []
        cmd += ["--no-save"] if args.no_save else []
        if os.path.exists(journal):
            os.unlink(journal)
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        stopped: list[bool] = []

        def forward(*_: object, child: subprocess.Popen = child,
                    stopped: list[bool] = stopped) -> None:
            stopped.append(True)
            child.send_signal(signal.SIGTERM)           # (it ends with its summary)
        signal.signal(signal.SIGTERM, forward)
        last = ""
        for line in child.stdout:                       # (passed through as it comes)
            print(line, end="", flush=True)
            last = line if line.startswith(f"{name}: ") else last
        rc = child.wait()
        if rc >= 0 or stopped:
            m = re.match(rf"{name}: (\d+) inputs.*, (\d+) findings", last)
            if m:
                done += int(m.group(1))
                findings += int(m.group(2))
            break
        try:
            with open(journal, "rb") as jf:
                raw = jf.read()
        except OSError:
            raw = b""
        at = int.from_bytes(raw[:8], "little") if len(raw) >= 8 else done
        f = Finding(name, raw[8:], "crash", f"the campaign process died of signal {-rc} "
                    f"(input {at} of seed {args.seed})")
        print(f"[{name}] FINDING crash: {f.data[:120]!r}\n  {f.detail}", flush=True)
        if not args.no_save:
            f.save()
        findings += 1
        done = at + 1
    return done, findings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    p.add_argument("kind", choices=NAMES + ("all",))
    p.add_argument("--inputs", type=int, help="stop after N inputs (per kind)")
    p.add_argument("--seconds", type=float, help="stop after S seconds (per kind)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-save", action="store_true", help="do not add findings to the corpus")
    p.add_argument("--supervise", action="store_true",
                   help="run in a child process; a crash is a finding and the campaign goes on")
    p.add_argument("--skip", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--journal", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.inputs is None and args.seconds is None:
        args.inputs = 1000
    # SIGTERM ends a campaign after the input in hand, with its summary (the exact count).
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    total = 0
    for name in (NAMES if args.kind == "all" else (args.kind,)):
        if args.supervise:
            t0 = time.monotonic()
            n, nf = supervise(name, args)
            dt = time.monotonic() - t0
            print(f"{name} (supervised): {n} inputs in {dt:.1f} s, {nf} findings", flush=True)
            total += nf
            continue
        kind = make(name)

        def show(f, name=name):
            print(f"[{name}] FINDING {f.what}: {f.data[:120]!r}\n  "
                  + f.detail.strip().replace("\n", "\n  "), flush=True)

        def progress(st):
            print(f"[{st.kind}] {st.inputs} inputs, {st.rate:.1f}/s, "
                  f"{len(st.findings)} findings", file=sys.stderr, flush=True)
        st = campaign(kind, inputs=args.inputs, seconds=args.seconds, seed=args.seed,
                      on_finding=show, save=not args.no_save, progress=progress,
                      stop=lambda: bool(stopping), skip=args.skip, journal=args.journal)
        print(f"{name}: {st.inputs} inputs in {st.seconds:.1f} s ({st.rate:.1f} inputs/s), "
              f"{len(st.findings)} findings", flush=True)
        total += len(st.findings)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
