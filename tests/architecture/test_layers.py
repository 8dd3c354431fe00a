"""The house rules of the package, checked on the import graph (grimp, as import-linter sees it).

- import-linter's contracts in pyproject.toml (`[tool.importlinter]`): the layers (machine ->
  checks/engine -> trace/ui/plugins -> commands -> script/gdb -> cli, lower never imports upper)
  and no run-time import cycle among the modules of any package;
- no group of more than three modules knows each other both ways, even through imports made only
  for type checking (those stay allowed for annotations, but a larger circle is a tangle that a
  protocol in the lower module states better);
- no module over 600 lines.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "debugger"
MAX_LINES = 600
MAX_TANGLE = 3


def test_import_linter_contracts_hold():
    pytest.importorskip("importlinter", reason="import-linter is not installed (pip install -e '.[test]')")
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    r = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                       cwd=ROOT, capture_output=True, text=True,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]


def _tangles(graph) -> list[list[str]]:
    """Strongly connected groups of modules (iterative Tarjan) larger than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.find_modules_directly_imported_by(w)))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    group = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        group.append(w)
                        if w == v:
                            break
                    if len(group) > 1:
                        out.append(sorted(group))
    return out


def test_no_tangle_of_more_than_three_modules_even_through_type_checking_imports():
    grimp = pytest.importorskip("grimp", reason="grimp (with import-linter) is not installed")
    sys.path.insert(0, str(ROOT))
    try:
        graph = grimp.build_graph("debugger", exclude_type_checking_imports=False, cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))
    big = [g for g in _tangles(graph) if len(g) > MAX_TANGLE]
    assert not big, "modules that know each other both ways:\n" + "\n".join(
        f"  {len(g)}: " + ", ".join(g) for g in big)


def test_no_module_over_600_lines():
    long = sorted((n, str(p.relative_to(ROOT))) for p in PACKAGE.rglob("*.py")
                  if (n := len(p.read_text().splitlines())) > MAX_LINES)
    assert not long, f"modules over {MAX_LINES} lines (split them by what they hold): {long}"
