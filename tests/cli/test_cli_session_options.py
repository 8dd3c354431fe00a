"""Session options shared by live, replay and gdbserver sessions; batch runs after the final
stop; input errors on the command line (exit 2, one line)."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.conftest import bootdbg_argv, cli_env  # noqa: E402
from tests.cli.guests import HELLO, UNREAL, write_image  # noqa: E402


def bootdbg(tmp_path: Path, *argv: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(bootdbg_argv() + [str(a) for a in argv], capture_output=True,
                          text=True, timeout=timeout, env=cli_env(tmp_path),
                          stdin=subprocess.DEVNULL)


def one_line_error(r: subprocess.CompletedProcess, *words: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert all(w in lines[0] for w in words), lines[0]
    return lines[0]


def test_batch_goes_on_after_the_guest_halts_with_time_travel(tmp_path):
    """Issue 13.3: `-ex record -ex continue -ex reverse-stepi -ex 'echo x'` prints x."""
    img = write_image(tmp_path, HELLO)
    out = tmp_path / "r.json"
    r = bootdbg(tmp_path, img, "--batch", "-ex", "record", "-ex", "continue", "-ex",
                "reverse-stepi", "-ex", "echo x\\n", "-ex", "continue", "-ex", "continue",
                "-ex", "p $pc == 0x7c22", "--json", out)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "x" in lines
    rep = json.loads(out.read_text())
    kinds = [s["kind"] for s in rep["stops"]]
    assert kinds == ["halted", "step", "halted"]
    assert rep["stops"][1]["icount"] == rep["stops"][0]["icount"] - 1
    # the second continue at the final stop says so in one line; not an error
    assert sum(ln.startswith("Not running: the guest stopped for good") for ln in lines) == 1
    assert lines[-1] == "$1 = 1" and rep["exit_reason"] == "halted" and rep["exit_code"] == 0


def test_a_loop_that_steps_ends_when_the_guest_halts(tmp_path):
    img = write_image(tmp_path, HELLO)
    sf = tmp_path / "s.gdb"
    sf.write_text("while $pc != 0x1234\n  si 7\nend\necho after\\n\n")
    r = bootdbg(tmp_path, img, "--batch", "-x", sf)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "after"
    assert sum(ln.startswith("Not running") for ln in r.stdout.splitlines()) == 1


@pytest.fixture
def unreal_trace(tmp_path):
    img = write_image(tmp_path, UNREAL, "unreal.img")
    trace = tmp_path / "u.bdt"
    r = bootdbg(tmp_path, "record", img, "-o", trace)
    assert r.returncode == 0, r.stderr
    return trace


def test_replay_takes_the_session_options(tmp_path, unreal_trace):
    """Issue 13.4: --json, --fail-on, --max-insns, --profile over a recording, as live."""
    img = write_image(tmp_path, UNREAL, "unreal.img")
    results = {}
    for name, target in (("live", [img]), ("replay", ["replay", unreal_trace])):
        out = tmp_path / f"{name}.json"
        r = bootdbg(tmp_path, *target, "--batch", "--fail-on", "mode", "--profile", "kvm",
                    "--json", out, "-ex", "continue", "-ex", "echo never\\n")
        assert r.returncode == 1, (name, r.stderr)
        assert "never" not in r.stdout
        rep = json.loads(out.read_text())
        assert rep["exit_reason"] == "fail:mode" and rep["exit_code"] == 1
        assert rep["profile"] == "kvm"
        results[name] = [(s["kind"], s["icount"], s["cs"], s["eip"]) for s in rep["stops"]]
    assert results["live"] == results["replay"] and len(results["live"]) == 1
    out = tmp_path / "budget.json"
    r = bootdbg(tmp_path, "replay", unreal_trace, "--batch", "--max-insns", "5", "--json", out)
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert rep["exit_reason"] == "budget" and rep["final"]["icount"] == 5
    one_line_error(bootdbg(tmp_path, "replay", unreal_trace, "--batch", "--fail-on", "nosuch"),
                   "unknown catchpoint kind")


def test_gdbserver_takes_the_session_options(tmp_path):
    """--fail-on and --json on the gdb stub: the report is written when the server ends."""
    img = write_image(tmp_path, UNREAL, "unreal.img")
    out = tmp_path / "g.json"
    proc = subprocess.Popen(bootdbg_argv() + ["gdbserver", str(img), "--listen",
                                              "127.0.0.1:0", "--once", "--fail-on", "mode",
                                              "--json", str(out), "-q"],
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=cli_env(tmp_path))
    try:
        line = proc.stdout.readline()
        port = int(line.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            def packet(body: str) -> str:
                sock.sendall(f"${body}#{sum(body.encode()) & 0xFF:02x}".encode())
                data = b""
                while not data.endswith(b"#") and b"#" not in data:
                    data += sock.recv(4096)
                while len(data.split(b"#", 1)[1]) < 2:
                    data += sock.recv(4096)
                sock.sendall(b"+")
                return data.decode().lstrip("+").split("$", 1)[1].split("#")[0]
            assert packet("c").startswith("T05")
            sock.sendall(b"$D#44")
            sock.recv(16)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    rep = json.loads(out.read_text())
    assert rep["exit_reason"] == "fail:mode" and [s["kind"] for s in rep["stops"]] == ["mode"]


def test_plugin_that_cannot_load_is_an_input_error(tmp_path):
    """Issue 13.5: --plugin nosuch in a batch run exits 2 without running the script."""
    img = write_image(tmp_path, HELLO)
    r = bootdbg(tmp_path, img, "--batch", "--plugin", "nosuch", "-ex", "echo ran\\n")
    one_line_error(r, "nosuch")
    assert "ran" not in r.stdout
    r = bootdbg(tmp_path, "gdbserver", img, "--plugin", "nosuch", "--listen", "127.0.0.1:0")
    one_line_error(r, "nosuch")


@pytest.mark.parametrize("sub", ["session", "run", "record", "gdbserver"])
def test_keys_that_cannot_be_typed_are_one_line(tmp_path, sub):
    """Issue 14.5: --keys é is an input error in every subcommand that boots an image."""
    img = write_image(tmp_path, HELLO)
    extra = {"session": ["--batch"], "record": ["-o", tmp_path / "x.bdt"],
             "gdbserver": ["--listen", "127.0.0.1:0", "--once"]}.get(sub, [])
    one_line_error(bootdbg(tmp_path, sub, img, "--keys", "é", *extra), "--keys", "é")
    one_line_error(bootdbg(tmp_path, sub, img, "--keys", "{nosuchkey}", *extra), "--keys")
