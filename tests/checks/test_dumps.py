"""Dump import: every format, mail quoting, console prefixes, wrapped lines, noise, bad input."""
from __future__ import annotations

import json
import random
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from debugger.checks import evaluate_guest
from debugger.checks.dumps import DumpError, parse_dump
from debugger.cli import main
from debugger.cpustate import Activity

DATA = Path(__file__).parent / "data"
FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
POINTSEC = FIXTURES / "xen-3.4-dump-pointsec.txt"
QUOTED = FIXTURES / "xen-3.4-dump-as-quoted-in-email.txt"
V86_18 = {f"SEG.V86.{r}.{f}" for r in ("CS", "SS", "DS", "ES", "FS", "GS")
          for f in ("BASE", "LIMIT", "AR")}


def fixture(path: Path) -> str:
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path.read_text()


@pytest.mark.parametrize("path", [POINTSEC, QUOTED], ids=["plain", "mail-quoted"])
def test_pointsec_fixture_gives_exactly_the_18_v86_violations(path):
    d = parse_dump(fixture(path))
    assert d.format == "xen-3.4" and d.exit_reason == 0x80000021
    c = d.guest.cpu
    assert c.rflags == 0x23202 and c.cr0 == 0x80010039 and c.ss.limit == 0xFC000FFF
    assert c.ldtr.unusable and c.tr.ar == 0x8B and c.interruptibility == 1
    k = d.guest.controls
    assert not k.unrestricted_guest and not k.ia32e_mode_guest and k.entry_intr_info == 0x80000B0B
    v = evaluate_guest(d.guest)
    assert set(v.rules()) == V86_18 and len(v.violations) == 18
    assert all(x.register == x.rule.split(".")[2].lower() for x in v.violations)


@pytest.mark.parametrize("name,fmt", [("xen-4.6-pointsec.txt", "xen-4.6"),
                                      ("kvm-pointsec.txt", "kvm"),
                                      ("kvm-legacy-pointsec.txt", "kvm-legacy")])
def test_other_vmcs_formats_carry_the_same_state(name, fmt):
    d = parse_dump((DATA / name).read_text())
    assert d.format == fmt and d.guest.controls.unrestricted_guest   # SecondaryExec bit 7
    assert set(evaluate_guest(d.guest).rules()) == V86_18
    assert d.cpu.ss.base == 0x20BA62 and d.cpu.gdtr.limit == 0x1DD8


def test_xen46_reads_pdptes_efer_pat():
    d = parse_dump((DATA / "xen-4.6-pointsec.txt").read_text())
    assert d.guest.pdptes == (0x1444001, 0x1445001, 0x1446001, 0x1447001)
    assert d.cpu.pat == 0x0007010600070106 and "efer" not in d.guest.unknown
    assert not evaluate_guest(d.guest).not_modelled                 # PDPTEs known, PAT valid


def test_entry_controls_ia32e_bit_9():
    text = (DATA / "kvm-pointsec.txt").read_text().replace("EntryControls=0000d1ff",
                                                            "EntryControls=0000d3ff")
    d = parse_dump(text)
    assert d.guest.controls.ia32e_mode_guest
    assert {"RF.VM", "MSR.EFER.LMA"} <= set(evaluate_guest(d.guest).rules())   # EFER=0, loaded


def test_xen46_quoted_and_rewrapped_in_mail_with_noise():
    body = (DATA / "xen-4.6-pointsec.txt").read_text()
    wrapped = "\n".join("> " + w for line in body.splitlines()
                        for w in textwrap.wrap(line, 72, break_on_hyphens=False))
    text = "Hi all,\n\nour guest dies with:\n\n" + wrapped + "\n\nAny idea?\n-- \nJoe\n"
    d = parse_dump(text)
    assert d.format == "xen-4.6" and set(evaluate_guest(d.guest).rules()) == V86_18


def test_unprefixed_dump_wrapped_without_console_prefix():
    body = fixture(POINTSEC).replace("(XEN) ", "")
    wrapped = "\n".join(">>> " + w for line in body.splitlines()
                        for w in textwrap.wrap(line, 60, break_on_hyphens=False))
    assert set(evaluate_guest(parse_dump(wrapped).guest).rules()) == V86_18


def test_qemu_formats():
    d = parse_dump((DATA / "qemu-long64.txt").read_text())
    assert d.format == "qemu" and d.guest is None
    c = d.cpu
    assert c.rax == 0x1122334455667788 and c.rip == 0x7C7B and c.mode.value == "long"
    assert c.cs.ar == 0xA09A and c.efer == 0x500 and c.gdtr.base == 0x7C7E
    d = parse_dump((DATA / "qemu-long64-movss.txt").read_text())
    assert d.cpu.interruptibility == 2                         # II=1 with IF=0: MOV SS
    d = parse_dump((DATA / "qemu-real-i386.txt").read_text())
    assert d.cpu.mode.value == "real" and d.cpu.ldtr.ar == 0x82 and d.cpu.a20


def test_qemu_not_present_segment_is_unusable_and_hlt():
    text = (DATA / "qemu-unreal-i386.txt").read_text()
    text = text.replace("FS =0000 00000000 0000ffff 00009300",
                        "FS =0000 00000000 0000ffff 00001300")
    text = text.replace("HLT=0", "HLT=1")
    d = parse_dump(text)
    assert d.cpu.fs.ar == 0x10013 and d.cpu.activity == Activity.HLT


@pytest.mark.parametrize("text,needle", [
    ("", "empty"),
    ("Nov 12 kernel: usb 1-1: new high-speed USB device\nhello\n", "not a VMCS dump"),
    ("\x00\x01\x02ELF\x7f\x00\x00" * 20, "binary"),
])
def test_unreadable_inputs(text, needle):
    with pytest.raises(DumpError) as e:
        parse_dump(text)
    assert needle in str(e.value)


def test_truncated_dump_names_the_last_line():
    lines = fixture(POINTSEC).splitlines()
    cut = lines.index(next(x for x in lines if "IDTR:" in x))
    with pytest.raises(DumpError) as e:
        parse_dump("\n".join(lines[:cut]))
    assert "incomplete" in e.value.msg and "TR" in e.value.msg and e.value.line_no == cut


def test_malformed_segment_line_is_reported():
    text = fixture(POINTSEC).replace("attr=0x0c093, limit=0xfc000fff", "attr=0x0c0z3, limit=0xf")
    with pytest.raises(DumpError) as e:
        parse_dump(text)
    assert e.value.line_no == 15 and "SS: sel=0x0070" in e.value.line


# -- the CLI -----------------------------------------------------------------------------------
def run_cli(capsys, *argv):
    code = main(["check", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("path", [POINTSEC, QUOTED])
def test_cli_fixture(capsys, path):
    fixture(path)
    code, out, err = run_cli(capsys, path)
    assert code == 1 and not err
    assert "RFLAGS.VM=1 but the segment caches hold protected-mode descriptors" in " ".join(
        out.split())
    code, out, _ = run_cli(capsys, path, "--json")
    d = json.loads(out)
    assert code == 1 and d["enterable"] is False and d["profile"] == "vmcs"
    assert {v["rule"] for v in d["violations"]} == V86_18 and len(d["violations"]) == 18
    assert all(v["register"] in ("cs", "ss", "ds", "es", "fs", "gs") for v in d["violations"])


def test_cli_qemu_profiles(capsys):
    path = DATA / "qemu-unreal-i386.txt"
    assert run_cli(capsys, path)[0] == 1                         # default vmx
    assert run_cli(capsys, path, "--profile", "vmx-ug")[0] == 0
    code, out, _ = run_cli(capsys, path, "--profile", "kvm", "--json")
    assert code == 1 and {v["register"] for v in json.loads(out)["violations"]} == {"ds", "es"}


@pytest.mark.parametrize("content", [b"", b"\x00\xff\xfe garbage \x00" * 50,
                                     b"just a log line\nanother\n"])
def test_cli_unreadable_gives_2_and_one_line(capsys, tmp_path, content):
    f = tmp_path / "in.txt"
    f.write_bytes(content)
    code, out, err = run_cli(capsys, f)
    assert code == 2 and not out and err.count("\n") == 1 and "Traceback" not in err


def test_cli_missing_file_and_wrong_profile(capsys, tmp_path):
    code, _, err = run_cli(capsys, tmp_path / "nope.txt")
    assert code == 2 and "no such file" in err and err.count("\n") == 1
    code, _, err = run_cli(capsys, DATA / "qemu-real-i386.txt", "--profile", "vmcs")
    assert code == 2 and "needs a VMCS dump" in err


# -- fuzzing --------------------------------------------------------------------------------
SAMPLES = [p.read_text() for p in sorted(DATA.glob("*.txt"))]


def _parse_ok_or_dumperror(text: str) -> None:
    try:
        parse_dump(text)
    except DumpError:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=2000))
def test_fuzz_random_text(text):
    _parse_ok_or_dumperror(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(SAMPLES) - 1), st.integers(0, 2**32), st.integers(1, 12),
       st.sampled_from(["truncate", "delete", "flip", "insert", "duplicate"]))
def test_fuzz_mutated_dumps(i, seed, n, how):
    rnd = random.Random(seed)
    lines = SAMPLES[i].splitlines()
    for _ in range(n):
        if not lines:
            break
        k = rnd.randrange(len(lines))
        if how == "truncate":
            lines = lines[:k]
        elif how == "delete":
            del lines[k]
        elif how == "duplicate":
            lines.insert(k, lines[rnd.randrange(len(lines))])
        elif how == "insert":
            lines.insert(k, "".join(chr(rnd.randrange(0, 0x250)) for _ in range(rnd.randrange(40))))
        else:
            s = lines[k]
            if s:
                j = rnd.randrange(len(s))
                lines[k] = s[:j] + chr(rnd.randrange(32, 127)) + s[j + 1:]
    _parse_ok_or_dumperror("\n".join(lines))


# -- debug-register aliases (issue 14 item 3) --------------------------------------------------
def _with_dr45(text: str, dr4: str, dr5: str) -> str:
    out = []
    for line in text.splitlines():
        if line.startswith("DR6="):
            line = f"DR4={dr4} DR5={dr5} " + line
        out.append(line)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("name", ["qemu-real-i386.txt", "qemu-long64.txt"])
def test_cli_dump_with_dr4_dr5_lines_gets_a_verdict(capsys, tmp_path, name):
    """DR4/DR5 are the architectural aliases of DR6/DR7 (CR4.DE=0): a dump that prints them is
    judged like the same dump without them, and alone they stand for DR6/DR7."""
    base = (DATA / name).read_text()
    assert "DR6=" in base
    f = tmp_path / "dr45.txt"
    f.write_text(_with_dr45(base, "ffff0ff0", "00000400"))
    code, out, err = run_cli(capsys, f, "--json")
    assert "Traceback" not in err and code in (0, 1), err
    ref = tmp_path / "ref.txt"
    ref.write_text(base)
    ref_code, ref_out, _ = run_cli(capsys, ref, "--json")
    assert code == ref_code and json.loads(out)["violations"] == json.loads(ref_out)["violations"]
    only = "\n".join(ln for ln in base.splitlines() if not ln.startswith("DR6="))
    only += "\nDR4=ffff0ff1 DR5=00000401\n"
    assert parse_dump(only).cpu.dr6 == 0xFFFF0FF1 and parse_dump(only).cpu.dr7 == 0x401

