"""Issue 16.8: the README's transcripts match the program.

A code block in README.md preceded by `<!-- transcript: bootdbg ARGS ... -->` is a prompt session:
its `(bootdbg) CMD` lines are fed to `bootdbg ARGS -q` (from the checkout, stdin a pipe), and the
lines the README shows after each command must appear, in that order, in what the program
prints for it (a README may leave lines out, not change them; timings are volatile).  A block
preceded by `<!-- transcript: python -->` runs as it is and must not fail."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.cli.conftest import bootdbg_argv, cli_env  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MARK = re.compile(r"<!-- transcript: (.*?)(?: \(.*\))? -->\n```[a-z]*\n(.*?)\n```", re.S)
VOLATILE = re.compile(r"\d+(\.\d+)? ?(s|ms|MIPS|MB|MiB)\b")


def transcripts() -> list[tuple[str, str]]:
    found = MARK.findall((ROOT / "README.md").read_text())
    assert found, "no <!-- transcript: ... --> blocks in README.md"
    return found


def _norm(line: str) -> str:
    return VOLATILE.sub("<n>", line.rstrip())


def _env(tmp_path):
    env = cli_env(tmp_path, NO_COLOR="1")
    env.pop("LINES", None)
    env["COLUMNS"] = "120"
    return env


@pytest.mark.parametrize("how,body", transcripts(), ids=lambda x: x.split("\n")[0][:40])
def test_readme_transcript(tmp_path, how, body):
    if how == "python":
        r = subprocess.run([sys.executable, "-c", body], cwd=ROOT, capture_output=True,
                           text=True, timeout=120, env=_env(tmp_path))
        assert r.returncode == 0 and not r.stderr, r.stderr
        return
    words = shlex.split(how)
    assert words[0] == "bootdbg", how
    steps: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("(bootdbg) "):
            steps.append((line[len("(bootdbg) "):], []))
        elif line.strip():
            assert steps, f"output before the first command: {line!r}"
            steps[-1][1].append(line)
    feed = "".join(f"echo @@{i}@@\\n\n{cmd}\n" for i, (cmd, _) in enumerate(steps))
    r = subprocess.run(bootdbg_argv() + words[1:] + ["-q"], cwd=ROOT,
                       input=feed + "echo @@end@@\\n\n", capture_output=True, text=True,
                       timeout=180, env=_env(tmp_path))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    out = r.stdout
    for i, (cmd, want) in enumerate(steps):
        got = out.split(f"@@{i}@@\n", 1)[1].split(f"@@{i + 1}@@" if i + 1 < len(steps)
                                                  else "@@end@@", 1)[0]
        lines = [_norm(ln) for ln in got.splitlines()]
        at = 0
        for w in want:
            try:
                at = lines.index(_norm(w), at) + 1
            except ValueError:
                raise AssertionError(f"README: after {cmd!r} the program does not print\n  {w}\n"
                                     f"it printed:\n" + "\n".join(lines[:40])) from None
