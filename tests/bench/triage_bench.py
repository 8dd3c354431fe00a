"""Triage benchmark: images/minute for 1 and 2 jobs, overhead per image against `bootdbg run`.

    python tests/bench/triage_bench.py [--copies N] [--jobs 1,2] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from debugger.triage.bench import bench_triage, format_report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--copies", type=int, default=3)
    p.add_argument("--jobs", default="1,2")
    p.add_argument("--max-insns", type=int, default=2_000_000)
    p.add_argument("--images", default="", help="demo image names, comma-separated")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    from debugger.images import image_path

    imgs = [image_path(n) for n in a.images.split(",") if n] or None
    r = bench_triage(imgs, copies=a.copies, jobs=[int(x) for x in a.jobs.split(",")],
                     max_insns=a.max_insns)
    print(json.dumps(r, indent=2) if a.json else format_report(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
