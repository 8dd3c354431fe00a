"""Triage throughput: images per minute with 1 and 2 (or more) local jobs, and the per-image
overhead of a triage row against a bare `bootdbg run` of the same image (both as fresh
processes, as a shell loop would start them).

    python tests/bench/triage_bench.py [--copies N] [--jobs 1,2] [--json]
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from debugger.triage.options import TriageOptions

__all__ = ["BENCH_SET", "bench_triage", "format_report"]

BENCH_SET = ("hello", "pmode", "vm86", "longmode", "unreal", "int13hook-hd", "exceptions")


def _bare_run(path: Path, max_insns: int) -> float:
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "debugger", "run", str(path), "--quiet",
                    "--no-state", "--max-insns", str(max_insns)], capture_output=True, env=env,
                   check=False)
    return time.perf_counter() - t0


def bench_triage(images: Sequence[Path] | None = None, *, copies: int = 3,
                 jobs: Sequence[int] = (1, 2), max_insns: int = 2_000_000) -> dict[str, Any]:
    import shutil
    import tempfile

    from debugger.images import image_path
    from debugger.triage import run

    base = [Path(p) for p in images] if images else [image_path(n) for n in BENCH_SET]
    opts = TriageOptions(max_insns=max_insns, timeout=300)
    figures = []
    with tempfile.TemporaryDirectory(prefix="bootdbg-triage-bench-") as tmp:
        corpus = []                    # copies under other names (a source is run once)
        for i in range(copies):
            for p in base:
                corpus.append(Path(tmp) / f"{i}-{p.name}")
                shutil.copyfile(p, corpus[-1])
        for j in jobs:
            t0 = time.perf_counter()
            rows = list(run(corpus, opts, jobs=j))
            dt = time.perf_counter() - t0
            figures.append({"jobs": j, "images": len(rows), "seconds": round(dt, 2),
                            "images_per_min": round(len(rows) / dt * 60, 1),
                            "failures": sum(1 for r in rows if r["outcome"] != "ok")})
        bare = sum(_bare_run(p, max_insns) for p in corpus) / len(corpus)
    one = next((f for f in figures if f["jobs"] == 1), figures[0])
    per_image = one["seconds"] / one["images"]
    speedup = None
    if len(figures) > 1:
        speedup = round(figures[-1]["images_per_min"] / figures[0]["images_per_min"], 2)
    return {"images": [p.name for p in base], "copies": copies, "cpus": os.cpu_count(),
            "load_before": os.getloadavg()[0], "figures": figures,
            "speedup": speedup, "bare_run_s": round(bare, 3),
            "triage_per_image_s": round(per_image, 3),
            "overhead_per_image_s": round(per_image - bare, 3)}


def format_report(r: dict[str, Any]) -> str:
    head = (f"triage benchmark: {len(r['images'])} images x {r['copies']} copies, "
            f"{r['cpus']} CPUs (load average {r['load_before']:.1f} at the start)")
    lines = [head]
    for f in r["figures"]:
        lines.append(f"  --jobs {f['jobs']}: {f['images']} images in {f['seconds']:.1f} s = "
                     f"{f['images_per_min']:.1f} images/min ({f['failures']} failed)")
    if r["speedup"] is not None:
        lines.append(f"  speed-up {r['figures'][0]['jobs']} -> {r['figures'][-1]['jobs']} jobs: "
                     f"{r['speedup']:.2f}x")
    lines.append(f"  per image: triage {r['triage_per_image_s']:.3f} s, bare `bootdbg run` "
                 f"{r['bare_run_s']:.3f} s, overhead {r['overhead_per_image_s']:+.3f} s")
    return "\n".join(lines)
