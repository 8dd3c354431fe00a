"""Every script construct through -x in batch mode, with the JSON report checked."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.conftest import bootdbg_argv, cli_env  # noqa: E402
from tests.cli.guests import HELLO, UNREAL, VM86, write_image  # noqa: E402


def batch(tmp_path: Path, script: str, source: str = HELLO, *extra: str):
    img = write_image(tmp_path, source)
    sf = tmp_path / "s.gdb"
    sf.write_text(script)
    out = tmp_path / "report.json"
    r = subprocess.run(bootdbg_argv() + [str(img), "-x", str(sf), "--batch", "--json", str(out),
                                         *extra], capture_output=True, text=True, timeout=120,
                       env=cli_env(tmp_path), stdin=subprocess.DEVNULL)
    report = json.loads(out.read_text()) if out.exists() else None
    return r, report


def test_report_shape(tmp_path):
    r, rep = batch(tmp_path, "si\nc\n")
    assert r.returncode == 0, r.stderr
    assert set(rep) >= {"version", "image", "stops", "final", "serial", "screen", "exit_reason"}
    assert len(rep["image"]["sha256"]) == 64 and rep["image"]["path"].endswith("guest.img")
    assert [s["kind"] for s in rep["stops"]] == ["step", "halted"]
    s0 = rep["stops"][0]
    assert {"kind", "icount", "cs", "eip", "linear", "instruction", "details"} <= set(s0)
    assert (s0["cs"], s0["eip"], s0["linear"], s0["icount"]) == (0, 0x7C02, 0x7C02, 1)
    assert rep["stops"][1]["instruction"] == "hlt"
    assert rep["final"]["mode"] == "real" and rep["final"]["cs"]["selector"] == 0
    assert rep["final"]["ds"] == {"selector": 0, "base": 0, "limit": 0xFFFF,
                                  "ar": rep["final"]["ds"]["ar"]}
    assert rep["serial"] == "Hi"
    assert len(rep["screen"]) == 25 and all(len(ln) == 80 for ln in rep["screen"])
    assert rep["exit_reason"] == "halted"


def test_comments_and_blank_lines(tmp_path):
    r, rep = batch(tmp_path, "# comment\n\n   # indented comment\nsi 2\n")
    assert r.returncode == 0 and rep["stops"][-1]["icount"] == 2
    assert rep["exit_reason"] == "end-of-script"


def test_if_else(tmp_path):
    r, rep = batch(tmp_path, "si\nif ax == 0\n  si\nelse\n  si 5\nend\nif ax != 0\n  si 9\nend\n")
    assert r.returncode == 0
    assert rep["stops"][-1]["icount"] == 2


def test_while_with_variables_and_loop_break(tmp_path):
    script = ("set $n = 0\nwhile $n < 10\n  si\n  set $n = $n + 1\n"
              "  if $n == 4\n    loop_break\n  end\nend\n")
    r, rep = batch(tmp_path, script)
    assert r.returncode == 0, r.stderr
    assert len(rep["stops"]) == 4 and rep["stops"][-1]["icount"] == 4


def test_loop_continue(tmp_path):
    script = ("set $n = 0\nwhile $n < 3\n  set $n = $n + 1\n  if $n == 2\n    loop_continue\n"
              "  end\n  si\nend\n")
    r, rep = batch(tmp_path, script)
    assert r.returncode == 0 and len(rep["stops"]) == 2


def test_define_with_arguments(tmp_path):
    script = "define steps\n  si $arg0\n  printf \"argc=%d\\n\", $argc\nend\nsteps 3\n"
    r, rep = batch(tmp_path, script)
    assert r.returncode == 0 and rep["stops"][0]["icount"] == 3
    assert "argc=1" in r.stdout


def test_breakpoint_commands_and_silent(tmp_path):
    script = ("b *0x7c12\ncommands\n  silent\n  printf \"cx=%d\\n\", cx\nend\n"
              "c\nc\nc\ndelete\nc\n")
    r, rep = batch(tmp_path, script)
    assert r.returncode == 0
    assert "cx=3\ncx=2\ncx=1\n" in r.stdout and "Stop #1" not in r.stdout
    assert [s["kind"] for s in rep["stops"]] == ["breakpoint"] * 3 + ["halted"]
    assert all(s["details"] == {} or isinstance(s["details"], dict) for s in rep["stops"])


def test_tbreak_until_finish_and_source(tmp_path):
    inner = tmp_path / "inner.gdb"
    inner.write_text("tbreak *0x7c22\nc\nfinish\n")
    r, rep = batch(tmp_path, f"source {inner}\nuntil *0x7c1a\n")
    assert r.returncode == 0, r.stderr
    assert [s["kind"] for s in rep["stops"]] == ["breakpoint", "finish", "until"]
    assert rep["stops"][1]["instruction"] == "ret"


def test_error_reports_file_line_and_exits_2(tmp_path):
    r, rep = batch(tmp_path, "si\n\nfrobnicate 3\nsi\n")
    assert r.returncode == 2
    assert r.stderr.strip().endswith('s.gdb:3: undefined command: "frobnicate"; try "help"')
    assert len(r.stderr.strip().splitlines()) == 1
    assert rep["exit_reason"] == "error" and len(rep["stops"]) == 1


def test_unclosed_block_is_an_error(tmp_path):
    r, _ = batch(tmp_path, "si\nwhile 1\n  si\n")
    assert r.returncode == 2 and "s.gdb:2: 'while' has no matching 'end'" in r.stderr


def test_bad_expression_in_condition(tmp_path):
    r, _ = batch(tmp_path, "if (((\n  si\nend\n")
    assert r.returncode == 2 and "s.gdb:1:" in r.stderr and "Traceback" not in r.stderr


def test_nested_source_error_points_at_the_inner_file(tmp_path):
    inner = tmp_path / "inner.gdb"
    inner.write_text("si\nx/4xb\n")
    r, _ = batch(tmp_path, f"source {inner}\n")
    assert r.returncode == 2 and "inner.gdb:2: x needs an address" in r.stderr


def test_fail_on_exits_1_with_the_vmx_stop(tmp_path):
    r, rep = batch(tmp_path, "c\n", UNREAL, "--fail-on", "vmx-invalid kvm")
    assert r.returncode == 1, r.stderr
    last = rep["stops"][-1]
    assert last["kind"] == "vmx-invalid" and last["instruction"] == "mov cr0, eax"
    assert last["details"]["profile"] == "kvm" and last["details"]["rules"]
    assert rep["exit_reason"] == "fail:vmx-invalid"


def test_catch_fail_in_the_script(tmp_path):
    r, rep = batch(tmp_path, "catch vm86 enter fail\nc\nsi\n", VM86)
    assert r.returncode == 1
    assert rep["stops"][-1]["kind"] == "vm86-enter" and len(rep["stops"]) == 1


def test_no_script_batch_continues_to_the_end(tmp_path):
    img = write_image(tmp_path, HELLO)
    out = tmp_path / "r.json"
    r = subprocess.run(bootdbg_argv() + [str(img), "--batch", "--json", str(out)],
                       capture_output=True, text=True, timeout=120, env=cli_env(tmp_path))
    rep = json.loads(out.read_text())
    assert r.returncode == 0 and rep["exit_reason"] == "halted" and rep["serial"] == "Hi"


def test_max_insns_budget(tmp_path):
    r, rep = batch(tmp_path, "catch vm86\nc\nc\n", VM86, "--max-insns", "500")
    assert r.returncode == 0 and rep["exit_reason"] == "budget"
    assert rep["final"]["icount"] == 500


def test_ex_commands_run_in_order_with_x(tmp_path):
    img = write_image(tmp_path, HELLO)
    sf = tmp_path / "a.gdb"
    sf.write_text("si\n")
    out = tmp_path / "r.json"
    r = subprocess.run(bootdbg_argv() + [str(img), "-ex", "si 2", "-x", str(sf), "-ex",
                                         "si 3", "--batch", "--json", str(out)],
                       capture_output=True, text=True, timeout=120, env=cli_env(tmp_path))
    rep = json.loads(out.read_text())
    assert r.returncode == 0 and [s["icount"] for s in rep["stops"]] == [2, 3, 6]


def test_after_the_guest_stops_the_script_goes_on_and_a_run_says_it_cannot(tmp_path):
    r, rep = batch(tmp_path, "c\np/x ip\ninfo registers\nsi\necho still here\n")
    assert r.returncode == 0, r.stderr
    assert "$1 = 0x7c22" in r.stdout and "EFLAGS" in r.stdout and "still here" in r.stdout
    refused = [ln for ln in r.stdout.splitlines() if ln.startswith("Not running")]
    assert len(refused) == 1 and "stopped for good (halted at icount" in refused[0]
    assert rep["exit_reason"] == "halted" and len(rep["stops"]) == 1
