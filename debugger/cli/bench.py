"""`bootdbg bench`: engine speed as ratios to bare Unicorn measured in the same run."""
from __future__ import annotations

import argparse
import json
import platform
from typing import Any

from debugger.cli import UserError

NAME = "bench"
HELP = "measure bootdbg's speed against bare Unicorn on the benchmark images"


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="*", metavar="IMAGE",
                   help="benchmark image names (default: bench-real bench-pm32 bench-switch, then "
                   "the tf-real and sreg-catch-mode guests); "
                   "'real' [NAME...]: boot software from Debian packages to its prompt, "
                   "against qemu-system-i386")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--limit", type=float, default=300.0, metavar="SECONDS",
                   help="bench real: give up on a configuration after this long (300)")
    p.add_argument("--configs", metavar="LIST",
                   help="bench real: comma-separated configurations (default: no watchers,"
                   "all catchpoints,record)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugger import version_report
    from debugger.bench import BENCH_IMAGES, MICRO, run_bench
    from debugger.images import image_path

    if args.images[:1] == ["real"]:
        return run_real_cli(args)
    names = tuple(args.images) or BENCH_IMAGES + MICRO
    for n in names:
        if n not in MICRO and not image_path(n).exists():
            raise UserError(f"no benchmark image {n!r} (looked for {image_path(n)})")
    try:
        results = run_bench(names)
    except RuntimeError as exc:
        raise UserError(str(exc), code=1) from None
    if args.json:
        print(json.dumps({"machine": platform.processor() or platform.machine(),
                          "python": platform.python_version(),
                          "version": version_report().splitlines(),
                          "results": [r.to_dict() for r in results]}, indent=2))
        return 0
    print(version_report())
    for r in results:
        print(f"\n{r.image}: {r.measured_instructions:,} instructions measured "
              f"(of {r.total_instructions:,}); bare Unicorn {r.bare_mips:.1f} MIPS")
        if r.note:
            print(f"  note: {r.note}")
        for f in r.figures:
            ratio = f"{f.ratio * 100:6.1f} % of bare" if f.ratio is not None else ""
            print(f"  {f.config:<24} {f.mips:12,.1f} {f.unit:<8} {ratio}"
                  + (f"   ({f.note})" if f.note else ""))
    return 0


def run_real_cli(args: argparse.Namespace) -> int:
    import time

    from debugger import version_report
    from debugger.bench_real import CONFIGS, REAL_IMAGES, bare_reference, run_real

    names = tuple(args.images[1:])
    known = {r.name for r in REAL_IMAGES}
    for n in names:
        if n not in known:
            raise UserError(f"no real-workload image {n!r} (one of: {', '.join(sorted(known))})")
    configs = CONFIGS
    if args.configs:
        configs = tuple(c.strip() for c in args.configs.split(","))
        for c in configs:
            if c not in CONFIGS:
                raise UserError(f"no configuration {c!r} (one of: {', '.join(CONFIGS)})")
    if args.limit <= 0:
        raise UserError("--limit must be a positive number of seconds")
    bare = bare_reference()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if args.json:
        results = run_real(names or None, configs=configs, limit=args.limit)
        print(json.dumps({"date": when, "machine": platform.processor() or platform.machine(),
                          "bare_unicorn_mips": bare,
                          "results": [r.to_dict() for r in results]}, indent=2))
        return 0
    print(version_report())
    print(f"{when}; bare Unicorn on the bench-real loop: {bare:.0f} MIPS")
    print(f"{'image':<20} {'configuration':<16} {'to prompt':>10} {'instructions':>14} "
          f"{'MIPS':>8} {'x QEMU':>7} {'% bare':>7}", flush=True)

    def row(r: Any) -> None:
        if r.skipped:
            print(f"{r.image:<20} skipped: {r.skipped}", flush=True)
            return
        for f in r.figures:
            t = f"{f.seconds:9.2f}s" if f.reached else f"{'(>' + format(f.seconds, '.0f') + 's)':>10}"
            xq = f"{f.seconds / r.qemu_seconds:7.1f}" if r.qemu_seconds and f.reached else \
                f"{'-':>7}"
            print(f"{r.image:<20} {f.config:<16} {t} {f.instructions:14,} {f.mips:8.1f} {xq} "
                  f"{f.mips / bare * 100:6.1f}%" + (f"  ({f.note})" if f.note else ""))
        q = f"{r.qemu_seconds:9.2f}s" if r.qemu_seconds is not None else "-"
        print(f"{r.image:<20} {r.qemu:<16} {q:>10}"
              + (f"  ({r.qemu_note})" if r.qemu_note else ""), flush=True)
    run_real(names or None, configs=configs, limit=args.limit, on_result=row)
    return 0
