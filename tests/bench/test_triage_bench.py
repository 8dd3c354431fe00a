"""The triage benchmark runs (bounded: one copy of two images) and reports its figures."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_triage_bench_reports_images_per_minute_and_overhead():
    r = subprocess.run([sys.executable, str(ROOT / "tests/bench/triage_bench.py"), "--copies",
                        "2", "--images", "hello", "--jobs", "1,2", "--max-insns", "20000", "--json"],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert [f["jobs"] for f in rep["figures"]] == [1, 2]
    n = 2 * len(rep["images"])
    assert all(f["images"] == n and f["failures"] == 0 and f["images_per_min"] > 0
               for f in rep["figures"])
    assert rep["bare_run_s"] > 0 and rep["speedup"] > 0
