"""`bootdbg run --until-serial TEXT` stops right after the OUT that completes TEXT, whatever the
run was doing: with fast slices (the default) the same instruction count, state and serial
output as counted one by one (BOOTDBG_NO_FAST_SLICES=1).  bench-switch prints its final state
after 5,000 mode-switch trips, inside a fast slice: the stop came at the HLT 4,495 instructions
later (the slice that asked for it was run again exactly, and the byte was not echoed twice, so
nothing asked again)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.conftest import bootdbg_argv, cli_env  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, **env: str) -> dict:
    out = tmp_path / f"report{len(env)}.json"
    subprocess.run(bootdbg_argv() + ["run", str(ROOT / "images" / "bench-switch.img"),
                                     "--until-serial", "EAX", "--quiet", "--no-state",
                                     "--json", str(out)],
                   env=cli_env(tmp_path, **env), capture_output=True, timeout=300, check=True)
    return json.loads(out.read_text())


def test_until_serial_stops_where_the_text_is_complete(tmp_path):
    fast = _run(tmp_path)
    exact = _run(tmp_path, BOOTDBG_NO_FAST_SLICES="1")
    assert fast["serial"].endswith("EAX") and exact["serial"] == fast["serial"]
    assert fast["stop"] == exact["stop"] and fast["final"] == exact["final"]
    assert fast["stop"]["reason"] == "serial"
