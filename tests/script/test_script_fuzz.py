"""Random command lines and random script files: one clear line or success, never a traceback."""
from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.commands.conftest import Driver  # noqa: E402
from tests.cli.guests import HELLO  # noqa: E402

_WORDS = ["si", "ni", "c 1", "x/4xb", "x/2i", "p", "p/x", "set", "b", "tbreak", "watch",
          "rwatch", "catch", "delete", "disable", "enable", "condition", "ignore", "info",
          "info gdt", "info idt", "info tss", "info b", "sreg", "regs", "check", "profile",
          "disassemble", "u", "echo", "printf", "help", "show", "until", "finish", "xp/2xw",
          "end", "else", "loop_break", "source", "screen", "serial", "modebp", "info e820"]
_ARGS = st.sampled_from(["", "0", "0x7c00", "*0x7c12", "0:7c12", "eax", "ds.base",
                         "byte[ds:si]", "1 +", "((", "$nope", "vm86", "kvm", "nosuch", "-1",
                         "\"%d\\n\", 1", "cx == 1", "if", "999", "0x3f8", "io 0x3f8",
                         "/nonexistent", "ffffffffffffffffff", "= 3", "ax = 1"])
_LINE = st.one_of(
    st.builds(lambda w, a: f"{w} {a}".strip(), st.sampled_from(_WORDS), _ARGS),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"),
            max_size=30))

_SHARED: dict[str, Driver] = {}


def _driver() -> Driver:
    d = Driver(HELLO)
    d.ctx.settings.context = False
    d.ctx.budget = 10_000
    return d


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_LINE, max_size=6))
def test_random_command_lines(lines):
    from debugger.script.interpreter import ScriptError, SessionOver

    d = _driver()
    for line in lines:
        try:
            d.interp.feed(line)
        except ScriptError as exc:
            msg = str(exc)
            assert msg and "\n" not in msg and "Traceback" not in msg
            assert "internal error" not in msg, msg
        except SessionOver:
            break
    d.interp.cancel()


_BLOCK = st.recursive(
    st.lists(_LINE, max_size=3),
    lambda inner: st.builds(
        lambda kind, cond, body, other: (
            [f"{kind} {cond}"] + body + (["else"] + other if kind == "if" and other else [])
            + ["end"]),
        st.sampled_from(["if", "while", "define cmd", "commands"]),
        st.sampled_from(["1", "0", "$i < 2", "eax == 0", "(("]), inner, inner),
    max_leaves=6)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(blocks=st.lists(_BLOCK, max_size=4), unbalanced=st.booleans())
def test_random_script_files(tmp_path_factory, blocks, unbalanced):
    from debugger.script.interpreter import ScriptError, SessionOver

    lines = ["set $i = 0", "set max_iterations 50"]
    for b in blocks:
        lines.extend(b if isinstance(b, list) else [b])
    if unbalanced:
        lines.append("while 1")
    path = tmp_path_factory.mktemp("s") / "random.gdb"
    path.write_text("\n".join(str(x) for x in lines) + "\n")
    d = _driver()
    try:
        d.interp.run_file(path)
    except ScriptError as exc:
        msg = str(exc)
        assert "\n" not in msg and "internal error" not in msg, msg
        assert msg.startswith(str(path)) or msg.startswith("-") or ":" in msg
    except SessionOver:
        pass
