"""python -m tests.fuzz KIND|all [--inputs N] [--seconds S] [--seed N] [--no-save]"""
from __future__ import annotations

import argparse
import signal
import sys

from tests.fuzz.engine import campaign
from tests.fuzz.kinds import NAMES, make


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    p.add_argument("kind", choices=NAMES + ("all",))
    p.add_argument("--inputs", type=int, help="stop after N inputs (per kind)")
    p.add_argument("--seconds", type=float, help="stop after S seconds (per kind)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-save", action="store_true", help="do not add findings to the corpus")
    args = p.parse_args(argv)
    if args.inputs is None and args.seconds is None:
        args.inputs = 1000
    # SIGTERM ends a campaign after the input in hand, with its summary (the exact count).
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    total = 0
    for name in (NAMES if args.kind == "all" else (args.kind,)):
        kind = make(name)

        def show(f, name=name):
            print(f"[{name}] FINDING {f.what}: {f.data[:120]!r}\n  "
                  + f.detail.strip().replace("\n", "\n  "), flush=True)

        def progress(st):
            print(f"[{st.kind}] {st.inputs} inputs, {st.rate:.1f}/s, "
                  f"{len(st.findings)} findings", file=sys.stderr, flush=True)
        st = campaign(kind, inputs=args.inputs, seconds=args.seconds, seed=args.seed,
                      on_finding=show, save=not args.no_save, progress=progress,
                      stop=lambda: bool(stopping))
        print(f"{name}: {st.inputs} inputs in {st.seconds:.1f} s ({st.rate:.1f} inputs/s), "
              f"{len(st.findings)} findings", flush=True)
        total += len(st.findings)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
