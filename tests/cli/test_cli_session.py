"""`bootdbg [IMAGE]` from the shell: pipes, NO_COLOR, input errors, exit codes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.conftest import bootdbg_argv, cli_env  # noqa: E402
from tests.cli.guests import HELLO, write_image  # noqa: E402


def run(tmp_path, args, stdin="", **env):
    return subprocess.run(bootdbg_argv() + args, input=stdin, capture_output=True, text=True,
                          timeout=120, env=cli_env(tmp_path, **env))


def test_piped_stdin_is_a_scriptable_repl_without_escape_codes(tmp_path):
    img = write_image(tmp_path, HELLO)
    r = run(tmp_path, [str(img)], "si\n\nsi\nfrobnicate\np/x ip\nquit\n")
    assert r.returncode == 0
    assert "\x1b[" not in r.stdout and "\x1b[" not in r.stderr
    assert "Stop #1 step" in r.stdout and "Stop #2 step" in r.stdout   # blank lines do nothing
    assert "Stop #3" not in r.stdout
    assert "$1 = 0x7c04" in r.stdout
    assert r.stderr.strip() == 'undefined command: "frobnicate"; try "help"'


def test_no_color_on_a_forced_terminal(tmp_path):
    img = write_image(tmp_path, HELLO)
    r = run(tmp_path, [str(img), "-q", "-ex", "si", "--batch", "-v"], NO_COLOR="1",
            FORCE_COLOR="1")
    assert r.returncode == 0 and "registers" in r.stdout
    assert "\x1b[3" not in r.stdout


def test_missing_image_and_script_are_one_line_errors(tmp_path):
    r = run(tmp_path, [str(tmp_path / "none.img"), "--batch"])
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "none.img" in r.stderr and "Traceback" not in r.stderr
    img = write_image(tmp_path, HELLO)
    r = run(tmp_path, [str(img), "-x", str(tmp_path / "nope.gdb"), "--batch"])
    assert r.returncode == 2 and "nope.gdb: no such file" in r.stderr


def test_bad_fail_on_and_profile(tmp_path):
    img = write_image(tmp_path, HELLO)
    r = run(tmp_path, [str(img), "--batch", "--fail-on", "nonsense"])
    assert r.returncode == 2 and "unknown catchpoint kind" in r.stderr
    r = run(tmp_path, [str(img), "--batch", "--profile", "nosuch"])
    assert r.returncode == 2 and "unknown profile" in r.stderr


def test_interactive_script_error_keeps_the_session(tmp_path):
    img = write_image(tmp_path, HELLO)
    sf = tmp_path / "bad.gdb"
    sf.write_text("si\nbogus\nsi\n")
    r = run(tmp_path, [str(img), "-q", "-x", str(sf)], "p/x ip\nquit\n")
    assert r.returncode == 0
    assert "bad.gdb:2: undefined command" in r.stderr
    assert "$1 = 0x7c02" in r.stdout          # the script stopped at the error; we went on


def test_default_demo_image(tmp_path):
    from debugger.images import demo_image

    r = run(tmp_path, ["-q", "-ex", "p/x pc", "--batch"])
    if demo_image().exists():
        assert r.returncode == 0 and "$1 = 0x7c00" in r.stdout
    else:
        assert r.returncode == 2 and "hello.img" in r.stderr
