"""The same triage on a Dask distributed cluster (LocalCluster: 2 worker processes on
127.0.0.1) gives the same rows as the local pool, apart from timings."""
from __future__ import annotations

from pathlib import Path

import pytest

from debugger.triage import TriageOptions, run
from debugger.triage.fields import TIMING_FIELDS
from tests.triage.corpus import build

distributed = pytest.importorskip("distributed", reason="Dask is an optional extra "
                                                        "(pip install 'bootdbg[cluster]')")


def _strip(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in TIMING_FIELDS}


def test_dask_cluster_rows_equal_local_pool_rows(tmp_path):
    corpus = build(tmp_path / "corpus", stock=False)
    srcs = [corpus[n] for n in ("hello", "pmode", "vm86", "bootkit2k", "loop", "nosig")]
    opts = TriageOptions(max_insns=100_000, timeout=60)
    local = {r["path"]: _strip(r) for r in run(srcs, opts, jobs=2)}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        remote = {r["path"]: _strip(r) for r in run(srcs, opts,
                                                    scheduler=cluster.scheduler_address)}
        # with --shared the workers read the same paths instead of receiving the bytes
        shared = {r["path"]: _strip(r) for r in run(srcs[:2], opts, shared=True,
                                                    scheduler=cluster.scheduler_address)}
    assert set(local) == {str(p) for p in srcs}
    assert remote == local
    assert all(shared[k] == local[k] for k in shared) and len(shared) == 2
    assert Path(remote[str(corpus["nosig"])]["path"]).name == "nosig.img"


def test_unreachable_scheduler_is_one_line(tmp_path):
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    img = tmp_path / "x.img"
    img.write_bytes(b"\0" * 510 + b"\x55\xaa")
    r = subprocess.run([sys.executable, "-m", "debugger", "triage", str(img), "--scheduler",
                        "tcp://127.0.0.1:9"], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=str(root)), cwd=root)
    assert r.returncode == 2 and "Dask scheduler" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
