"""`bootdbg bench`: engine speed as ratios to bare Unicorn measured in the same run."""
from __future__ import annotations

import argparse
import json
import platform

from debugger.cli import UserError

NAME = "bench"
HELP = "measure bootdbg's speed against bare Unicorn on the benchmark images"


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="*", metavar="IMAGE",
                   help="benchmark image names (default: bench-real bench-pm32 bench-switch)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugger import version_report
    from debugger.bench import BENCH_IMAGES, run_bench
    from debugger.images import image_path

    names = tuple(args.images) or BENCH_IMAGES
    for n in names:
        if not image_path(n).exists():
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
