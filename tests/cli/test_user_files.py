"""Files the user names are never read for ever (issue 14, item 8): `/dev/zero` as an image, a
second drive, a dump, a batch script or a sourced script gets one line naming it, at once."""
from __future__ import annotations

import subprocess

import pytest

from tests.cli.conftest import ROOT, bootdbg_argv, cli_env

HELLO = str(ROOT / "images" / "hello.img")


def _run(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([*bootdbg_argv(), *args], capture_output=True, text=True,
                              timeout=90, cwd=tmp_path, env=cli_env(tmp_path),
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"bootdbg {' '.join(args)} still reading after 90 s")


@pytest.mark.parametrize("args, path", [
    (["run", "/dev/zero"], "/dev/zero"),
    (["run", HELLO, "--hdb", "/dev/zero", "--max-insns", "10"], "/dev/zero"),
    (["check", "/dev/zero"], "/dev/zero"),
    (["check", "/dev/urandom"], "/dev/urandom"),
    (["session", HELLO, "-x", "/dev/zero"], "/dev/zero"),
])
def test_endless_files_get_one_line(tmp_path, args, path):
    r = _run(tmp_path, *args)
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out[-2000:]
    lines = [ln for ln in out.splitlines() if path in ln]
    assert len(lines) == 1, out[-2000:]
    assert "character device" in lines[0]


def test_source_of_an_endless_file_in_a_script(tmp_path):
    script = tmp_path / "s.bdg"
    script.write_text("source /dev/zero\n")
    r = _run(tmp_path, "session", HELLO, "-x", str(script))
    out = r.stdout + r.stderr
    assert "Traceback" not in out
    assert [ln for ln in out.splitlines() if "/dev/zero" in ln and "character device" in ln]


def test_a_script_larger_than_the_cap_is_refused_from_its_size(tmp_path):
    big = tmp_path / "big.bdg"
    with open(big, "wb") as f:
        f.truncate(1 << 30)                   # sparse: reading it would take 1 GiB
    r = _run(tmp_path, "session", HELLO, "-x", str(big))
    out = r.stdout + r.stderr
    assert "Traceback" not in out
    assert [ln for ln in out.splitlines() if "big.bdg" in ln and "too large" in ln], out[-2000:]
