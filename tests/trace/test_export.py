"""`bootdbg trace export`: JSON lines and Tenet lines of a recording, checked against a Session
single-stepping the same image."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from debugger.cpustate import CpuState
from debugger.engine.session import Session
from debugger.trace.fields import flatten

IMAGES = Path(__file__).resolve().parents[2] / "images"
PMODE = IMAGES / "pmode.img"       # INT 13h in the boot sector, real -> PM32 -> PM16 -> real


def bootdbg(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "debugger", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "pmode.bdt"
    r = bootdbg("record", str(PMODE), "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def _jsonl(recording: Path, *extra: str) -> list[dict]:
    r = bootdbg("trace", "export", str(recording), "--format", "jsonl", *extra)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_jsonl_matches_single_stepping(recording: Path) -> None:
    objs = _jsonl(recording)
    assert objs[0]["type"] == "start" and objs[-1]["type"] == "end"
    assert objs[-1]["reason"] == "halted"
    insns = [o for o in objs if o["type"] == "insn"]
    assert [o["icount"] for o in insns] == list(range(len(insns)))
    assert objs[-1]["icount"] == len(insns) > 8000
    events = [o for o in objs if o["type"] == "event"]
    assert [e["message"] for e in events] == ["BIOS INT 13h"]
    # the sectors the BIOS read, as memory written by that event
    assert any(w["address"] == 0x7E00 and len(w["new"]) >= 2 * 512 for w in events[0]["writes"])

    s = Session(PMODE)
    flat = flatten(CpuState.from_dict(objs[0]["state"]))
    after_event = False
    modes = set()
    checked_writes = 0
    for o in objs[1:]:
        if o["type"] == "event":
            for k, (old, new) in o["changed"].items():
                assert flat[k] == old
                flat[k] = new
            after_event = True
            continue
        if o["type"] == "end":
            break
        assert s.icount == o["icount"]
        cs, eip = flat["cs.selector"], flat["rip"]
        assert (o["cs"], o["eip"], o["linear"]) == (cs, eip, flat["cs.base"] + eip)
        if not after_event:      # at a BIOS stub a Session shows the state before the service
            assert flatten(s.state()) == flat, f"icount {o['icount']}"
            code = bytes.fromhex(o["bytes"])
            assert s.read_memory(o["linear"], len(code)) == code
            assert s.disassemble(o["linear"], 1)[0].text == o["disasm"]
        after_event = False
        modes.add(o["mode"])
        for k, (old, new) in o["changed"].items():
            assert flat[k] == old, (o["icount"], k)
            flat[k] = new
        s.step()
        for w in o["writes"]:
            new = bytes.fromhex(w["new"])
            assert s.read_memory(w["address"], len(new), "physical") == new
            checked_writes += 1
    assert modes == {"real", "pm32", "pm16"}
    assert checked_writes > 1000
    end = objs[-1]
    assert s.icount == end["icount"]
    assert flatten(s.state()) == flatten(CpuState.from_dict(end["state"])) == flat


def test_jsonl_range_and_segment_caches(recording: Path) -> None:
    objs = _jsonl(recording, "--from", "100", "--to", "2100")
    insns = [o for o in objs if o["type"] == "insn"]
    assert insns[0]["icount"] == 100 and insns[-1]["icount"] == 2099
    assert objs[0]["icount"] == 100
    assert objs[-1] == {**objs[-1], "type": "end", "icount": 2100, "reason": "range"}
    # the far jump into protected mode reloads CS with its hidden cache
    far = [o for o in insns if o["disasm"].startswith("ljmp") and "cs.ar" in o["changed"]]
    assert far, "no far jump reloading CS in the window"
    ch = far[0]["changed"]
    assert ch["cs.selector"][1] == 8 and ch["cs.limit"][1] == 0xFFFFFFFF
    s = Session(PMODE)
    s.step(100)
    assert flatten(s.state()) == flatten(CpuState.from_dict(objs[0]["state"]))


_TENET_ITEM = re.compile(r"^([a-z0-9_]+)=(0x[0-9a-f]+|[a-z0-9]+|0x[0-9a-f]+:[0-9a-f]*)$")
_TENET_X86 = ("eax", "ebx", "ecx", "edx", "ebp", "esp", "esi", "edi")


def _tenet_loadable(line: str) -> bool:
    """What stock Tenet's text parser accepts: register names of its x86 arch or mr/mw/mrw
    with ADDR:HEX, values in hex (it raises on anything else)."""
    for item in line.split(","):
        name, _, value = item.partition("=")
        if name.upper() in ("MR", "MW", "MRW"):
            addr, _, data = value.partition(":")
            int(addr, 16)
            if len(data) % 2:
                return False
            bytes.fromhex(data)
        elif name.upper() in [*map(str.upper, _TENET_X86), "EIP"]:
            int(value, 16)
        else:
            return False
    return True


def test_tenet_lines(recording: Path) -> None:
    r = bootdbg("trace", "export", str(recording), "--format", "tenet", "--from", "30",
                "--to", "60")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 31          # 30 instructions and the state after the last one
    assert all(_tenet_loadable(x) for x in lines)
    objs = _jsonl(recording, "--from", "30", "--to", "60")
    s = Session(PMODE)
    s.step(30)
    first = dict(i.split("=", 1) for i in lines[0].split(","))
    assert set(first) == {*_TENET_X86, "eip"}
    # what each line should carry: the memory written since the previous line
    expect_mem: list[list[str]] = []
    cur: list[str] = []
    insns = []
    for o in objs:
        if o["type"] == "insn":
            expect_mem.append(cur)
            insns.append(o)
            cur = []
        if o["type"] in ("insn", "event"):
            cur += [f"mw={w['address']:#x}:{w['new']}" for w in o["writes"]]
    expect_mem.append(cur)
    regs: dict[str, int] = {}
    for n, line in enumerate(lines):
        items = line.split(",")
        regs_here = [i for i in items if not i.startswith(("mr=", "mw="))]
        assert regs_here[-1].startswith("eip=")
        for item in regs_here:
            name, value = item.split("=")
            if name != "eip" and n:
                assert regs.get(name) != int(value, 16), f"line {n}: {name} did not change"
            regs[name] = int(value, 16)
        assert [i for i in items if i.startswith("mw=")] == expect_mem[n], f"line {n}"
        st = s.state()
        if n < 30:
            assert regs["eip"] == insns[n]["linear"]
        if n < 30 and st.pc == insns[n]["linear"]:     # (a Session at a BIOS stub: see above)
            for name in _TENET_X86:
                assert regs[name] == getattr(st, "r" + name[1:]) & 0xFFFFFFFF, (n, name)
        if n < 30:
            s.step()
    end = CpuState.from_dict(objs[-1]["state"])
    assert regs["eip"] == end.pc and regs["eax"] == end.rax & 0xFFFFFFFF
    # the INT 13h window: the stack frame the INT pushed and the sectors the BIOS read
    assert any(i.startswith("mw=0x7e00:") for x in lines for i in x.split(","))
    assert any(i.startswith("mr=0x7bfa:") for x in lines for i in x.split(","))


def test_tenet_extras(recording: Path) -> None:
    r = bootdbg("trace", "export", str(recording), "--format", "tenet", "--extras",
                "--from", "740", "--to", "780")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    first = dict(i.split("=", 1) for i in lines[0].split(","))
    assert {"cs_base", "ss_base", "ds_base", "es_base", "fs_base", "gs_base", "mode"} <= set(first)
    modes = [dict(i.split("=", 1) for i in x.split(",") if "=" in i).get("mode") for x in lines]
    # CR0.PE set with a real-mode CS cache is pm16 until the far jump loads CS
    assert first["mode"] == "real" and {"pm16", "pm32"} <= set(modes)
    assert sum(1 for x in lines if "cs_base=" in x) == 1    # only where it changes
    assert not _tenet_loadable(lines[0])     # which is why --extras is not the default


@pytest.mark.parametrize("args, message", [
    (["--from", "9999999"], "past the end"),
    (["--from", "10", "--to", "5"], "before --from"),
    (["--from", "-1"], "at least 0"),
])
def test_export_bad_range(recording: Path, args: list[str], message: str) -> None:
    r = bootdbg("trace", "export", str(recording), "--format", "jsonl", *args)
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr


def test_export_bad_files(tmp_path: Path, recording: Path) -> None:
    junk = tmp_path / "junk.bdt"
    junk.write_bytes(b"not a trace at all\n" * 10)
    cut = tmp_path / "cut.bdt"
    cut.write_bytes(recording.read_bytes()[:40])
    for f, msg in ((junk, "not a bootdbg trace"), (cut, "header"),
                   (tmp_path / "missing.bdt", "no such file")):
        r = bootdbg("trace", "export", str(f), "--format", "tenet")
        assert r.returncode == 2, (f, r.stdout)
        assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert "Traceback" not in r.stderr


def test_full_trace_gives_the_same_stream(tmp_path: Path) -> None:
    """A recording with the per-instruction trace (--full) is read from it, not re-executed:
    the same instructions, states and memory writes (the zero-instruction work folded into the
    instruction before it, see istream)."""
    import inspect

    from debugger.trace.istream import Event, InstructionStream, Step
    from debugger.trace.recorder import Recorder

    if "full" not in inspect.signature(Recorder).parameters:
        pytest.skip("this bootdbg records no per-instruction trace")
    s = Session(PMODE)
    rec = Recorder(s, tmp_path / "full.bdt", full=True)
    ev = s.cont()
    rec.close(ev.kind, ev.message)
    full = InstructionStream(tmp_path / "full.bdt")
    again = InstructionStream(tmp_path / "full.bdt", full=False)
    assert full.full is not None and again.full is None
    a, b = list(full.items()), list(again.items())
    assert not any(isinstance(x, Event) for x in a)
    sa, sb = [x for x in a if isinstance(x, Step)], [x for x in b if isinstance(x, Step)]
    assert [x.icount for x in sa] == [x.icount for x in sb] == list(range(len(sa)))
    after_event = {x.icount for x in b if isinstance(x, Event)}
    assert after_event == {46}            # the BIOS service (INT 13h)
    for x, y in zip(sa, sb, strict=True):
        assert (x.code, x.text) == (y.code, y.text), x.icount
        if x.icount not in after_event:   # (there: before the service / after it)
            assert flatten(x.before) == flatten(y.before), x.icount
        assert flatten(x.after) == flatten(y.after) or x.icount + 1 in after_event
    writes_a = [(addr, new) for x in sa for addr, _old, new in x.writes]
    writes_b = [(addr, new) for x in b if isinstance(x, (Step, Event))
                for addr, _old, new in x.writes]
    assert writes_a == writes_b and len(writes_a) > 1000
    assert a[-1].icount == b[-1].icount and flatten(a[-1].state) == flatten(b[-1].state)
    full.close()
    again.close()
    r = bootdbg("trace", "export", str(tmp_path / "full.bdt"), "--format", "jsonl", "--from",
                "40", "--to", "50")
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["icount"] for x in r.stdout.splitlines()] == [40, *range(40, 50), 50]
