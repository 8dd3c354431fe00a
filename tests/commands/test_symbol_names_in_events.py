"""Issue 16.2: names in the event list (`info events`, the context's events pane): a code
address an event names gets <name+off> as the stop lines show it."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.commands.test_symbols_cmds import IMAGES, exceptions_map  # noqa: E402,F401


def test_info_events_names_the_addresses(tmp_path, exceptions_map):  # noqa: F811
    from debugger.engine.symbols import SymbolTable, load

    script = tmp_path / "s.gdb"
    script.write_text(f"symbol-file {exceptions_map}\ncontinue\ninfo events all exception\n"
                      "symbol-file\ninfo events all exception\n")
    r = subprocess.run([sys.executable, "-m", "debugger", str(IMAGES / "exceptions.img"),
                        "--batch", "-x", str(script)], capture_output=True, text=True,
                       timeout=120, cwd=tmp_path, env=dict(os.environ, NO_COLOR="1"))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    table = SymbolTable()
    table.add(load(exceptions_map)[0], str(exceptions_map))
    lines = [ln for ln in r.stdout.splitlines() if re.match(r"\[\d+\] exception: ", ln)]
    named, bare = lines[:len(lines) // 2], lines[len(lines) // 2:]
    assert len(named) == len(bare) >= 5
    hits = 0
    for with_names, without in zip(named, bare):
        m = re.search(r" at (0x[0-9a-f]+)", without)
        assert m and "<" not in without, without
        where = table.describe(int(m.group(1), 16))
        want = without.replace(m.group(0), m.group(0) + (f" <{where}>" if where else ""), 1)
        assert with_names == want
        hits += bool(where)
    assert hits >= 3                   # the demo's faulting instructions are in named code
