"""Scripts at the limits: deep block nesting and long-running loops stay one clear line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.conftest import bootdbg_argv, cli_env  # noqa: E402
from tests.cli.guests import HELLO, write_image  # noqa: E402


def _nested(opener: str, depth: int, inner: str) -> str:
    return f"{opener}\n" * depth + inner + "\n" + "end\n" * depth


@pytest.mark.parametrize("opener", ["if 1", "while $once == 0"])
def test_500_nested_blocks_are_one_error_line(tmp_path, opener):
    img = write_image(tmp_path, HELLO)
    sf = tmp_path / "deep.gdb"
    sf.write_text(_nested(opener, 500, "echo deep\\n"))
    r = subprocess.run(bootdbg_argv() + [str(img), "--batch", "-x", str(sf)],
                       capture_output=True, text=True, timeout=120, env=cli_env(tmp_path),
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "Recursion" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "nested more than" in lines[0], r.stderr
    assert lines[0].startswith(f"{sf}:101:")
    assert "deep" not in r.stdout


def test_deep_but_allowed_nesting_runs(tmp_path):
    from debugger.script.parser import MAX_NESTING

    img = write_image(tmp_path, HELLO)
    sf = tmp_path / "ok.gdb"
    body = "set $once = 1\necho deep\\n"
    sf.write_text("set $once = 0\n" + _nested("if 1", MAX_NESTING // 2, "") +
                  _nested("while $once == 0", MAX_NESTING // 2, body))
    r = subprocess.run(bootdbg_argv() + [str(img), "--batch", "-x", str(sf)],
                       capture_output=True, text=True, timeout=120, env=cli_env(tmp_path),
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("deep") == 1


def test_a_while_condition_is_parsed_once(tmp_path, monkeypatch):
    """`while COND` re-evaluates COND; it does not re-parse it every iteration."""
    from tests.commands.conftest import Driver
    import debugger.engine.expr as expr

    d = Driver(HELLO, batch=True)
    calls = []
    real = expr.parse

    def counting(text, *args, **kw):
        calls.append(text)
        return real(text, *args, **kw)
    monkeypatch.setattr(expr, "parse", counting)
    d.lines("set max_iterations 5000", "set $n = 0", "while $n < 3000 && 1 + 1 == 2",
            "if $n >= 0", "end", "set $n = $n + 1", "end")
    assert d.session.eval("$n") == 3000
    assert calls.count("$n < 3000 && 1 + 1 == 2") == 1


def test_while_1_gives_up_with_one_line(tmp_path):
    from tests.commands.conftest import Driver

    d = Driver(HELLO, batch=True)
    d("set max_iterations 20000")
    d.interp.feed("while 1")
    assert "gave up after 20000 iterations" in d.error("end")
