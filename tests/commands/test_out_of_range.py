"""Values and addresses out of the machine's range are user errors: one line that says what is
out of range, never "internal error", and the session stays usable (issue 14.6)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.conftest import bootdbg_argv, cli_env  # noqa: E402
from tests.cli.guests import HELLO, write_image  # noqa: E402
from tests.commands.conftest import Driver  # noqa: E402


@pytest.mark.parametrize("line, words", [
    ("set tr.base = 0x1ffffffffffffffff", ("tr.base", "out of range", "0xffffffffffffffff")),
    ("set idtr.limit = 0x100000000", ("idtr.limit", "out of range", "0xffffffff")),
    ("set gdtr.base = 1 << 64", ("gdtr.base", "out of range")),
    ("set cs.selector = 0x10000", ("cs.selector", "out of range", "0xffff")),
    ("set ds.limit = 0x123456789", ("ds.limit", "out of range")),
    ("set cs.base = 0x100000000", ("cs.base", "out of range", "0xffffffff")),
    ('printf "%99999999999d\\n", 1', ("field width 99999999999", "out of range")),
    ('printf "%100000000d\\n", 1', ("field width 100000000", "out of range")),
    ('printf "%.100000000x\\n", 1', ("precision", "out of range")),
])
def test_out_of_range_values_are_one_line(line, words):
    d = Driver(HELLO)
    before = d.session.state()
    msg = d.error(line)
    assert "internal error" not in msg and all(w in msg for w in words), msg
    assert d.session.state() == before                    # nothing half-applied
    d("stepi")                                            # still usable
    assert d.session.icount == 1


def test_negative_field_values_are_twos_complement():
    d = Driver(HELLO)
    d("set gdtr.limit = -1")
    d("set es.base = -16")
    d("set fs.base = -16")
    st = d.session.state()
    assert st.gdtr.limit == 0xFFFFFFFF and st.fs.base == 2**64 - 16
    assert st.es.base == 2**32 - 16        # ES/CS/SS/DS bases are 32 bits wide
    assert "out of range (0..0xffffffff)" in d.error("set es.base = 0x100000000")


@pytest.mark.parametrize("lines", [
    ["break *0xffffffffffffffff", "stepi"],
    ["until *0xffffffffffffffff"],
    ["tbreak *0xffffffffffffffff", "stepi 3"],
])
def test_points_at_the_last_linear_address(lines):
    d = Driver(HELLO)
    for ln in lines:
        d(ln)
    assert d.session.icount >= 1 and d.session.last_stop.kind in ("step", "halted")
    assert not d.err.getvalue()


def test_watchpoint_with_pae_page_tables_outside_ram():
    d = Driver(HELLO)
    d.lines("set cr3 = 0xf0000000", "set cr4 = 0x20", "set cr0 = 0x80000011",
            "watch *0x500")
    assert d.session.state().cr3 == 0xf0000000 and d.session.state().cr4 == 0x20
    out = d("stepi")            # the CPU cannot walk those tables: a stop, not a crash
    assert "Stop #1" in out and "internal error" not in out


def test_engine_refusals_are_session_errors(monkeypatch):
    """Whatever the CPU engine still refuses comes out of a Session method as SessionError."""
    from unicorn import UC_ERR_ARG, UcError

    from debugger.engine.session import SessionError
    from debugger.machine.memory import MemoryError_

    d = Driver(HELLO)
    s = d.session
    m = s.machine
    for exc in (UcError(UC_ERR_ARG), MemoryError_("no memory at physical 0xf0000000")):
        def refuse(*_a, exc=exc, **_k):
            raise exc
        monkeypatch.setattr(m, "run", refuse)
        monkeypatch.setattr(m, "step_lean", refuse)
        for call in (lambda: s.step(), lambda: s.step(3), lambda: s.cont(),
                     lambda: s.until(0x7c10)):
            with pytest.raises(SessionError) as ei:
                call()
            assert "\n" not in str(ei.value) and "cannot run the guest" in str(ei.value)
        msg = d.error("stepi")
        assert "internal error" not in msg
    monkeypatch.undo()
    d("stepi")
    assert s.icount == 1


def test_cli_printf_width_is_one_line_and_exit_2(tmp_path):
    img = write_image(tmp_path, HELLO)
    r = subprocess.run(bootdbg_argv() + [str(img), "--batch", "-ex", 'printf "%100000000d", 1'],
                       capture_output=True, text=True, timeout=60, env=cli_env(tmp_path),
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and len(r.stdout) < 1000
    assert r.stderr.strip() == "-ex:1: printf: field width 100000000 is out of range " \
                               "(at most 4096)"


def test_session_addresses_outside_64_bits_are_refused():
    from debugger.engine.session import Session, SessionError

    s = Session(disks=Driver(HELLO).session.disks)
    before = s.read_memory(0, 16)
    for call in (lambda: s.read_memory(-1, 4), lambda: s.read_memory(1 << 64, 4),
                 lambda: s.read_memory(0, -1), lambda: s.write_memory(1 << 70, b"x"),
                 lambda: s.write_memory(-5, b"x"), lambda: s.break_at(1 << 70),
                 lambda: s.watch(-1), lambda: s.until(-3)):
        with pytest.raises(SessionError) as ei:
            call()
        assert "\n" not in str(ei.value)
    assert s.read_memory(0, 16) == before and not list(s.points)
    assert s.step().icount == 1
