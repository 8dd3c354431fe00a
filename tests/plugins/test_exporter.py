"""A plugin's trace exporter: `bootdbg trace export TRACE --plugin P --format NAME`."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.plugins.conftest import IMAGES, ROOT

EXPORTER = '''
"""pcs: one line per instruction, icount and linear address (a trace exporter)."""
from debugger.trace.istream import Step

def setup(api):
    def export(stream, out, start=0, stop=None):
        for item in stream.items(start, stop):
            if isinstance(item, Step):
                if item.text == "{boom}":
                    raise RuntimeError("cannot export " + item.text)
                out.write(f"{item.icount} {item.before.pc:#x} {item.text}\\n")
    api.register_exporter("pcs", export, help="icount and linear PC per instruction")
'''


def bootdbg(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "debugger", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd or ROOT)


def test_plugin_exporter_writes_what_the_builtin_export_sees(tmp_path):
    trace = tmp_path / "hello.bdt"
    assert bootdbg("record", str(IMAGES / "hello.img"), "-o", str(trace)).returncode == 0
    plugin = tmp_path / "pcs.py"
    plugin.write_text(EXPORTER.replace("{boom}", "(never)"))
    r = bootdbg("trace", "export", str(trace), "--plugin", str(plugin), "--format", "pcs",
                "--from", "5", "--to", "200", "-o", str(tmp_path / "pcs.txt"))
    assert r.returncode == 0, r.stderr
    mine = (tmp_path / "pcs.txt").read_text().splitlines()
    j = bootdbg("trace", "export", str(trace), "--format", "jsonl", "--from", "5", "--to", "200")
    assert j.returncode == 0, j.stderr
    insns = [o for o in map(json.loads, j.stdout.splitlines()) if o.get("type") == "insn"]
    assert len(mine) == len(insns) > 100
    for line, o in zip(mine, insns):
        icount, linear, text = line.split(" ", 2)
        assert (int(icount), int(linear, 16), text) == (o["icount"], o["linear"], o["disasm"])


def test_plugin_exporter_failures_and_unknown_formats(tmp_path):
    trace = tmp_path / "hello.bdt"
    assert bootdbg("record", str(IMAGES / "hello.img"), "-o", str(trace)).returncode == 0
    r = bootdbg("trace", "export", str(trace), "--format", "pcs")
    assert r.returncode == 2 and "unknown format 'pcs'" in r.stderr
    assert r.stderr.strip().count("\n") == 0
    plugin = tmp_path / "pcs.py"
    plugin.write_text(EXPORTER.replace("{boom}", "cli"))
    r = bootdbg("trace", "export", str(trace), "--plugin", str(plugin), "--format", "nope")
    assert r.returncode == 2 and "one of: tenet, jsonl, pcs" in r.stderr
    r = bootdbg("trace", "export", str(trace), "--plugin", str(plugin), "--format", "pcs")
    assert r.returncode == 1
    assert "plugin pcs failed in exporter pcs: RuntimeError: cannot export cli" in r.stderr
    assert "Traceback" not in r.stderr
