"""display / undisplay / info display, $_icount $_exitcode $_ $__, p $var = EXPR,
set disassembly-flavor, telescope, Bochs `u START END` and hex counts -- as a user types them,
checked against the session's own state and memory."""
from __future__ import annotations

import re

import pytest

from tests.commands.conftest import Driver
from tests.conftest import ROOT

IMG = ROOT / "images" / "exceptions.img"


@pytest.fixture
def d() -> Driver:
    drv = Driver(None, image=IMG)
    drv("set context off")
    return drv


def test_displays_show_at_every_stop_what_the_state_holds(d):
    d("display/x $esp")
    d("display $_icount")
    d("display/2xw $esp")
    d("display/i $pc")
    assert d("info display").splitlines()[2:] == [
        "1   y   /x $esp", "2   y   $_icount", "3   y   /2xw $esp", "4   y   /i $pc"]
    for _ in range(3):
        out = d("stepi 0x25")
        st = d.session.state()
        assert f"1: /x $esp = {st.rsp & 0xFFFFFFFF:#x}" in out
        assert re.search(rf"^2: \$_icount = {d.session.icount}\b", out, re.M)
        words = d.session.read_memory(st.rsp, 8)
        assert (f"0x{int.from_bytes(words[:4], 'little'):08x} "
                f"0x{int.from_bytes(words[4:], 'little'):08x}") in out
        assert re.search(rf"=> \S+ {st.pc:08x} ", out)
    d("undisplay 1 3")
    out = d("stepi")
    assert "1: " not in out and "3: " not in out and "2: $_icount" in out
    d("undisplay")
    assert d("info display").startswith("There are no auto-display")
    assert "unknown name 'nosuch'" in d.error("display nosuch")
    assert "no display number 9" in d.error("undisplay 9")


def test_convenience_variables(d):
    assert "$_exitcode" in d.error("p $_exitcode")          # void until the guest ends
    d("stepi 5")
    assert d("p $_icount").strip() == "$1 = 5"
    d("x/4xh 0x7c00")
    assert d("p/x $_").strip().endswith(f"= {0x7c06:#x}")
    assert d("p/x $__").strip().endswith(
        f"= {int.from_bytes(d.session.read_memory(0x7c06, 2), 'little'):#x}")
    assert d("p/d $v = 6 * 7").strip().endswith("= 42")
    assert d("p/d $v + 1").strip().endswith("= 43")
    d("set $w = $v - 2")
    assert d("p/d $w").strip().endswith("= 40")
    assert d("p/x ecx = 0xbeef").strip().endswith("= 0xbeef")
    assert d.session.state().rcx & 0xFFFF == 0xbeef
    d("continue")
    assert d("p $_exitcode").strip().endswith("= 0")


def test_att_flavor_and_bochs_u_and_hex_counts(d):
    d("stepi 0x200")
    intel = d("x/6i $pc")
    d("set disassembly-flavor att")
    att = d("x/6i $pc")
    assert re.search(r"%[re]?[a-z]{2}", att) and "%" not in intel
    assert [ln.split()[2] for ln in att.splitlines()] == [ln.split()[2] for ln in
                                                         intel.splitlines()]   # addresses
    d("set disassembly-flavor intel")
    assert d("x/6i $pc") == intel
    assert "att or intel" in d.error("set disassembly-flavor bogus")
    pc = d.session.state().pc
    bochs = d(f"u {pc:#x} {pc + 0x10:#x}")
    assert bochs == d(f"disassemble {pc:#x},{pc + 0x10:#x}")
    addrs = [int(ln.split()[2], 16) for ln in bochs.splitlines()]
    assert addrs[0] == pc and addrs[-1] < pc + 0x10
    assert len(d("disassemble /0x4").splitlines()) == 4
    assert len(d(f"disassemble {pc:#x} 0x3").splitlines()) == 3
    assert d("x/0x3xb 0x7c00").count("0x") == 4
    before = d.session.icount
    d("stepi 0x10")
    assert d.session.icount == before + 16


def test_telescope_follows_pointers(d):
    d("break *0x8806")                    # p_report: called, so a return address is on top
    d("continue")
    st = d.session.state()
    out = d("telescope")
    lines = out.splitlines()
    assert len(lines) == 8
    for i, ln in enumerate(lines):
        m = re.match(r"^([0-9a-f]{2}):([0-9a-f]{4})\| (.{8}) (0x[0-9a-f]+): (0x[0-9a-f]+)", ln)
        assert m, ln
        a = int(m.group(4), 16)
        assert a == st.rsp + 4 * i
        assert int(m.group(5), 16) == int.from_bytes(d.session.read_memory(a, 4), "little")
        chain = [int(x.split()[0], 16) for x in ln.split(": ", 1)[1].split(" -> ")]
        for here, nxt in zip(chain, chain[1:]):
            assert nxt == int.from_bytes(d.session.read_memory(here, 4), "little")
    assert lines[0].split("|")[1].split()[0] == "esp"
    assert len(d("telescope $esp 0x3").splitlines()) == 3
