"""`bootdbg triage` over a corpus built at test time: every row's fields, isolation (a guest that
never stops, a worker that hangs, crashes or runs out of memory), resumption, Ctrl-C, CSV."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from debugger.triage import TriageOptions, run
from debugger.triage.fields import ALWAYS
from tests.triage.corpus import build

ROOT = Path(__file__).resolve().parents[2]
BUDGET = 400_000


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "debugger", "triage", *args],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def rows_of(path: Path) -> dict[str, dict]:
    return {Path(r["path"]).name: r for r in map(json.loads, path.read_text().splitlines())}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return build(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def triaged(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "rows.jsonl"
    folder = corpus["hello"].parent
    lst = folder / "list.txt"
    lst.write_text("# the broken ones, and one that does not exist\nbroken/empty.img\n"
                   "broken/short.img\nbroken/nosig.img\nmissing.img\n")
    r = cli(str(folder), f"@{lst}", "-o", str(out), "--max-insns", str(BUDGET),
            "--timeout", "300", "--jobs", "2")
    assert r.returncode == 0, r.stderr
    return out, r


def test_every_image_gets_one_row(corpus, triaged):
    out, r = triaged
    rows = rows_of(out)
    assert set(rows) == {p.name for p in corpus.values()} | {"missing.img"}
    assert len(out.read_text().splitlines()) == len(rows)
    # the summary table on stderr
    assert "boot to a prompt" in r.stderr and "un-enterable (vmx)" in r.stderr


def test_common_fields(corpus, triaged):
    rows = rows_of(triaged[0])
    for name, row in rows.items():
        assert row["path"].endswith(name)
        assert row["wall_s"] >= 0
        if name in ("missing.img", "empty.img"):
            assert row["outcome"] == "error", row
            continue
        data = corpus[Path(name).stem].read_bytes()
        import hashlib

        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        assert row["size"] == len(data)
    for name in ("short.img", "nosig.img", "missing.img", "empty.img"):
        assert rows[name]["outcome"] == "error" and rows[name]["error"], rows[name]
        assert rows[name]["stop_reason"] is None
    assert "boot signature" in rows["nosig.img"]["error"]
    assert "512" in rows["short.img"]["error"]


def test_demo_rows_match_a_bare_run_and_the_known_boot(triaged):
    """The stop reason, icount, serial text and screen are what `bootdbg run` reports."""
    rows = rows_of(triaged[0])
    for name in ("hello", "pmode", "vm86"):
        row = rows[f"{name}.img"]
        r = subprocess.run([sys.executable, "-m", "debugger", "run", row["path"],
                            "--max-insns", str(BUDGET), "--quiet"], capture_output=True,
                           text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert f"(after {row['icount']} instructions)" in r.stdout
        assert f"stopped: {row['stop_reason']}:" in r.stdout
        assert row["outcome"] == "ok" and row["drive"] == "floppy"
        if row["screen"]:
            assert row["screen"].splitlines()[0] in r.stdout
    hello = rows["hello.img"]
    assert hello["serial"].startswith("hello: bootdbg demo image")
    assert hello["bios_calls"]["INT 10h AH=0Eh"] >= 1 and hello["bios_calls"]["INT 13h AH=02h"] == 1
    assert hello["modes"] == {"real": {"icount": 0, "cs_eip": "0000:7C00"}}
    vm86 = rows["vm86.img"]
    assert vm86["vm86"] == {"entries": 3, "exits": 3, "complete": True}
    assert vm86["modes"]["vm86"]["icount"] > vm86["modes"]["pm32"]["icount"] > 0
    assert set(vm86["modes"]) == {"real", "pm16", "pm32", "vm86"}
    lm = rows["longmode.img"]
    assert "long" in lm["modes"] and lm["final_mode"] == "long"


def test_profiles_first_unenterable_state_agrees_with_the_checker(triaged):
    """Each reported first un-enterable state is refused by the checker at that icount, and
    every earlier stop of a step-by-step replay is accepted (differential: Session API)."""
    from debugger.engine.session import Session

    rows = rows_of(triaged[0])
    pm = rows["pmode.img"]
    assert pm["profiles"]["vmx"] != ALWAYS and pm["profiles"]["vmx-ug"] == ALWAYS
    for name in ("pmode.img", "longmode.img"):
        row = rows[name]
        for prof, v in row["profiles"].items():
            if v == ALWAYS:
                continue
            assert v["rules"] and v["instruction"] and v["cs_eip"]
            s = Session(row["path"])
            if v["icount"] > 1:
                s.step(v["icount"] - 1)
                assert s.check(prof).ok, (name, prof)      # the state before is accepted
            s.step(1)
            bad = s.check(prof)
            assert not bad.ok
            assert sorted({str(x.rule) for x in bad.violations}) == v["rules"]


def test_bootkit_like_images(triaged):
    rows = rows_of(triaged[0])
    for name, kib in (("bootkit2k.img", 2), ("bootkit8k.img", 8)):
        row = rows[name]
        assert row["memory_kib"]["taken"] == kib
        assert row["memory_kib"]["after"] == row["memory_kib"]["before"] - kib
        hook = [h for h in row["ivt_rewired"] if h["vector"] == "13h"]
        assert hook and hook[0]["new"] == f"{(row['memory_kib']['after'] * 64):04X}:0060" \
            or hook and hook[0]["new"].startswith(f"{row['memory_kib']['after'] * 64:04X}:")
        assert row["sector0_writes"]["count"] == 1
        assert row["bios_calls"].get("INT 13h AH=03h") == 1
        assert row["prompt"] is True and "BOOTKIT-SAMPLE" in row["serial"]
    ih = rows["int13hook-hd.img"]
    assert [h["vector"] for h in ih["ivt_rewired"]] == ["13h"] and ih["memory_kib"]["taken"] == 1
    assert rows["hello.img"]["ivt_rewired"] == [] and rows["hello.img"]["memory_kib"]["taken"] == 0
    assert rows["hello.img"]["sector0_writes"]["count"] == 0


def test_guest_that_loops_stops_at_the_budget(triaged):
    row = rows_of(triaged[0])["loop.img"]
    assert row["stop_reason"] == "budget" and row["icount"] == BUDGET
    assert row["prompt"] is False and row["serial"] == ""


def test_stock_loaders(triaged):
    rows = rows_of(triaged[0])
    if "syslinux.img" not in rows and "grub.img" not in rows:
        pytest.skip("SYSLINUX / GRUB packages not installed")
    for name in ("syslinux.img", "grub.img"):
        row = rows.get(name)
        if row is None:
            continue
        assert row["drive"] == "hd" and row["outcome"] == "ok"
        assert "pm32" in row["modes"] and row["modes"]["pm32"]["icount"] > 0
        assert row["bios_calls"].get("INT 13h AH=42h", 0) + \
            row["bios_calls"].get("INT 13h AH=02h", 0) >= 1


def test_second_run_with_same_output_does_no_work(corpus, triaged, tmp_path):
    out = tmp_path / "again.jsonl"
    out.write_text(triaged[0].read_text())
    before = out.read_bytes()
    folder = corpus["hello"].parent
    r = cli(str(folder), "-o", str(out), "--max-insns", str(BUDGET), "--timeout", "60")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == before
    assert "already in the results: skipped" in r.stderr
    # other options are other rows
    r = cli(str(corpus["hello"]), "-o", str(out), "--max-insns", "1000")
    assert len(out.read_text().splitlines()) == len(before.splitlines()) + 1


def test_csv_output_and_resumption(corpus, tmp_path):
    import csv

    out = tmp_path / "rows.csv"
    args = (str(corpus["hello"]), str(corpus["bootkit2k"]), "-o", str(out), "--max-insns",
            "100000", "--profiles", "vmx,kvm")
    assert cli(*args).returncode == 0
    assert cli(*args).returncode == 0
    recs = list(csv.DictReader(out.open(newline="")))
    assert len(recs) == 2
    bk = next(r for r in recs if r["path"].endswith("bootkit2k.img"))
    assert json.loads(bk["memory_kib"])["taken"] == 2
    assert set(json.loads(bk["profiles"])) == {"vmx", "kvm"}


def test_per_image_timeout(corpus):
    rows = list(run([corpus["loop"], corpus["hello"]],
                    TriageOptions(max_insns=10**12, timeout=3.0), jobs=2))
    by = {Path(r["path"]).name: r for r in rows}
    assert by["loop.img"]["outcome"] == "timeout" and by["loop.img"]["stop_reason"] == "timeout"
    assert by["loop.img"]["icount"] > 0 and by["loop.img"]["error"] is None
    # the batch went on (no assertion on how long hello took on a shared machine)
    assert by["hello.img"]["stop_reason"] in ("halted", "timeout")


PLUGIN_HANG = "def setup(api):\n    import time\n    time.sleep(3600)\n"
PLUGIN_CRASH = "def setup(api):\n    import os, signal\n    os.kill(os.getpid(), signal.SIGSEGV)\n"


def test_hung_crashed_and_memory_starved_workers_do_not_stop_the_batch(corpus, tmp_path):
    hang = tmp_path / "hang_plugin.py"
    hang.write_text(PLUGIN_HANG)
    crash = tmp_path / "crash_plugin.py"
    crash.write_text(PLUGIN_CRASH)
    imgs = [corpus["hello"], corpus["pmode"]]
    hung = list(run(imgs, TriageOptions(max_insns=10_000, timeout=1.0, kill_grace=1.0,
                                        plugins=(str(hang),)), jobs=2))
    assert [r["outcome"] for r in hung] == ["timeout", "timeout"]
    assert all("killed" in r["error"] for r in hung)
    crashed = list(run(imgs, TriageOptions(max_insns=10_000, plugins=(str(crash),)), jobs=2))
    assert [r["outcome"] for r in crashed] == ["crash", "crash"]
    assert all("SIGSEGV" in r["error"] for r in crashed)
    # A guest machine that cannot fit in the worker's address space (--ram 1024 under a
    # 3600 MiB RLIMIT_AS, most of which Unicorn reserves up front).
    starved = list(run([corpus["hello"]], TriageOptions(max_insns=10_000, ram_mb=3000,
                                                         memory_mb=3600)))
    assert starved[0]["outcome"] == "memory" and "out of memory" in starved[0]["error"]
    ok = list(run([corpus["hello"]], TriageOptions(max_insns=10_000)))
    assert ok[0]["outcome"] == "ok"


def test_plugins_script_and_record_on(corpus, tmp_path):
    script = tmp_path / "s.gdb"
    script.write_text("echo script-ran\\n\ninfo registers\n")
    rec = tmp_path / "recs"
    rows = {Path(r["path"]).name: r for r in run(
        [corpus["bootkit2k"], corpus["pmode"]],
        TriageOptions(max_insns=100_000, plugins=("bootkit",), script=script.read_text(),
                      record_on="vmx-invalid", record_dir=str(rec)), jobs=2)}
    bk = rows["bootkit2k.img"]
    whats = {f.get("what") for f in bk["plugins"]["bootkit"]}
    assert {"ivt-hook", "mem-steal", "mbr-write"} <= whats, bk["plugins"]
    assert "script-ran" in bk["script_output"]
    assert "recording" not in bk                      # never un-enterable: nothing kept
    pm = rows["pmode.img"]
    assert pm["profiles"]["vmx"] != ALWAYS
    assert Path(pm["recording"]).is_file()
    assert sorted(p.name for p in rec.iterdir()) == [Path(pm["recording"]).name]
    from debugger.trace.replay import Replay

    rp = Replay(pm["recording"])                    # ready for `bootdbg replay`
    assert rp.reader.header["disks"]


def test_ctrl_c_finishes_rows_in_flight_and_leaves_a_valid_file(corpus, tmp_path):
    out = tmp_path / "rows.jsonl"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    srcs = [str(corpus["loop"])] * 1 + [str(corpus[n]) for n in ("hello", "pmode", "vm86")]
    p = subprocess.Popen([sys.executable, "-m", "debugger", "triage", *srcs, "-o", str(out),
                          "--jobs", "1", "--max-insns", str(10**12), "--timeout", "3"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         cwd=ROOT, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:       # wait until the first image is being run
        if any("-m debugger.triage " in _cmdline(c) for c in _children(p.pid)):
            break
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    lines = out.read_text().splitlines()
    rows = [json.loads(x) for x in lines]             # every line is a whole row
    assert 1 <= len(rows) < 4
    assert rows[0]["path"].endswith("loop.img") and rows[0]["outcome"] == "timeout"
    assert "interrupted" in err


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)     # not inherited as ignored from a shell


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):     # workers start from pool threads
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def test_bad_input_is_one_line(tmp_path):
    for args, text in (((str(tmp_path / "nope"),), "no such file"),
                       ((str(tmp_path), "--profiles", "vmx,bogus"), "unknown profile"),
                       ((str(tmp_path), "--max-insns", "0"), "--max-insns"),
                       ((str(tmp_path), "--record-on", "bogus"), "--record-on")):
        r = cli(*args)
        assert r.returncode == 2 and text in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_fast_triage_agrees_with_the_exact_one_except_in_what_it_does_not_watch(corpus):
    from debugger.triage.fields import AT_END

    imgs = [corpus[n] for n in ("pmode", "bootkit2k", "vm86")]
    exact = {r["path"]: r for r in run(imgs, TriageOptions(max_insns=100_000), jobs=2)}
    fast = {r["path"]: r for r in run(imgs, TriageOptions(max_insns=100_000, fast=True),
                                      jobs=2)}
    same = ("stop_reason", "icount", "serial", "screen", "bios_calls", "ivt_rewired",
            "memory_kib", "sector0_writes", "final_mode", "sha256", "prompt")
    for path, row in exact.items():
        assert {k: fast[path][k] for k in same} == {k: row[k] for k in same}
        assert fast[path]["options"] != row["options"]          # other options, other rows
    pm = fast[str(corpus["pmode"])]
    assert pm["profiles"]["vmx"] == AT_END                        # ends in real mode again
    assert exact[str(corpus["pmode"])]["profiles"]["vmx"]["icount"] > 0


def test_progress_bar_on_a_terminal(corpus, tmp_path):
    pexpect = pytest.importorskip("pexpect")
    out = tmp_path / "rows.jsonl"
    child = pexpect.spawn(sys.executable, ["-m", "debugger", "triage", str(corpus["hello"]),
                                           str(corpus["bootkit2k"]), "-o", str(out),
                                           "--max-insns", "50000"],
                          env=dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="120"),
                          cwd=str(ROOT), encoding="utf-8", timeout=300)
    child.expect(r"images/min")                     # the bar: done/total, rate, failures
    child.expect(r"failed")
    # the summary (bootkit2k ends at "A:> "), through the table's colour codes
    child.expect(r"boot to a prompt(\x1b\[[0-9;]*m|\s)+1")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert len(out.read_text().splitlines()) == 2


def test_each_profile_alone_gives_the_same_first_unenterable_state():
    """Watching several profiles at once (one catchpoint each, stopping on any) finds, for
    each profile, what watching it alone finds (in-process API, bounded runs)."""
    from debugger.images import image_path
    from debugger.triage.probe import triage_path

    profiles = ("vmx", "kvm", "xen")
    for name, budget in (("pmode", 20_000), ("bench-switch", 1_300)):
        both = triage_path(image_path(name), TriageOptions(max_insns=budget, profiles=profiles))
        for prof in profiles:
            alone = triage_path(image_path(name), TriageOptions(max_insns=budget,
                                                                profiles=(prof,)))
            assert alone["profiles"][prof] == both["profiles"][prof], (name, prof)
    assert isinstance(both["profiles"]["kvm"], dict)      # bench-switch fails both vmx, kvm


def test_script_runs_with_the_profile_catchpoints_armed():
    """-x SCRIPT: a `continue` in the script stops at the first un-enterable state, which the
    row records exactly as without a script."""
    from debugger.images import image_path
    from debugger.triage.probe import triage_path

    opts = dict(max_insns=20_000, profiles=("vmx", "kvm", "vmx-ug"))
    plain = triage_path(image_path("pmode"), TriageOptions(**opts))
    scripted = triage_path(image_path("pmode"), TriageOptions(
        **opts, script="continue\ncontinue\ncontinue\n", script_name="s.gdb"))
    assert scripted["profiles"] == plain["profiles"]
    assert isinstance(plain["profiles"]["vmx"], dict)
    assert "vmx-invalid" in scripted["script_output"] or "enterable" in \
        scripted["script_output"], scripted["script_output"]
    assert scripted["icount"] == plain["icount"] and scripted["serial"] == plain["serial"]
