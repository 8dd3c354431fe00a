"""Fixtures for plugin tests: a command driver over a demo image, and a fake installed
distribution that exposes plugins through the `bootdbg.plugins` entry-point group."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
IMAGES = ROOT / "images"
PLUGINS = ROOT / "plugins"


class Driver:
    def __init__(self, image: str, drive: str | None = None) -> None:
        from rich.console import Console

        from debugger.commands.context import CommandContext
        from debugger.engine.session import Session
        from debugger.machine.disk import open_disk
        from debugger.script.interpreter import Interpreter
        from debugger.ui.theme import THEME

        kind = None if drive is None else ("hd" if drive.startswith("hd") else "floppy")
        disk = open_disk(IMAGES / image, name=drive, kind=kind, boot=True)
        self.session = Session(disks=[disk])
        self.out, self.err = io.StringIO(), io.StringIO()
        con = Console(file=self.out, width=200, force_terminal=False, theme=THEME)
        econ = Console(file=self.err, width=200, force_terminal=False, theme=THEME)
        self.ctx = CommandContext(self.session, con, batch=True, err_console=econ)
        self.interp = Interpreter(self.ctx)

    def __call__(self, line: str) -> str:
        start = self.out.tell()
        self.interp.feed(line)
        return self.out.getvalue()[start:]

    def error(self, line: str) -> str:
        from debugger.script.interpreter import ScriptError

        with pytest.raises(ScriptError) as ei:
            self.interp.feed(line)
        msg = str(ei.value)
        assert "\n" not in msg and "Traceback" not in msg
        return msg


@pytest.fixture
def drive():
    made: list[Driver] = []

    def make(image: str, drive: str | None = None) -> Driver:
        d = Driver(image, drive)
        made.append(d)
        return d
    yield make
    from debugger.plugins import manager_for

    for d in made:                      # global registries (commands) must not leak
        manager_for(d.session).unload_all()


def make_distribution(tmp_path: Path, names: list[str]) -> Path:
    """A site folder holding an installed distribution `bootdbg-test-plugins` whose entry
    points (group bootdbg.plugins) name a module that re-exports the in-tree plugins."""
    site = tmp_path / "site"
    pkg = site / "bdtestplugins"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for n in names:
        (pkg / f"{n}_ep.py").write_text(
            "import importlib.util, sys\n"
            f"_spec = importlib.util.spec_from_file_location(\n"
            f"    'bdtest_{n}', {str(PLUGINS / (n + '.py'))!r})\n"
            "_mod = importlib.util.module_from_spec(_spec)\n"
            f"sys.modules['bdtest_{n}'] = _mod\n"
            "_spec.loader.exec_module(_mod)\n"
            "setup = _mod.setup\n")
    dist = site / "bootdbg_test_plugins-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bootdbg-test-plugins\n"
                                   "Version: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[bootdbg.plugins]\n" + "".join(f"ep-{n} = bdtestplugins.{n}_ep\n" for n in names))
    return site


@pytest.fixture
def ep_site(tmp_path, monkeypatch):
    site = make_distribution(tmp_path, ["bootkit", "disklog", "screenshot", "emucost"])
    monkeypatch.syspath_prepend(str(site))
    return site
