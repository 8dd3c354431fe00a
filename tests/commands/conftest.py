"""Fixtures for command tests: a CommandContext over an assembled guest, output captured."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

# `tests.*` imports must work from any working directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.conftest import assemble  # noqa: E402


class Driver:
    """Feeds lines to the interpreter like the prompt does and returns what they printed."""

    def __init__(self, source: str | None, batch: bool = False, image: Path | None = None,
                 **session_kw: object) -> None:
        from rich.console import Console

        from debugger.commands.context import CommandContext
        from debugger.engine.session import Session
        from debugger.machine.disk import disk_from_bytes
        from debugger.script.interpreter import Interpreter
        from debugger.ui.theme import THEME

        from debugger.machine.disk import open_disk

        disk = open_disk(image, boot=True) if image is not None else \
            disk_from_bytes(assemble(source or ""), "t.img", boot=True)
        self.session = Session(disks=[disk], **session_kw)  # type: ignore[arg-type]
        self.out = io.StringIO()
        self.err = io.StringIO()
        con = Console(file=self.out, width=140, force_terminal=False, theme=THEME,
                      highlight=False)
        econ = Console(file=self.err, width=140, force_terminal=False, theme=THEME)
        self.ctx = CommandContext(self.session, con, batch=batch, err_console=econ)
        self.interp = Interpreter(self.ctx)

    def __call__(self, line: str) -> str:
        """Run a line; return its output (errors raise ScriptError)."""
        start = self.out.tell()
        self.interp.feed(line)
        return self.out.getvalue()[start:]

    def lines(self, *lines: str) -> str:
        start = self.out.tell()
        for ln in lines:
            self.interp.feed(ln)
        return self.out.getvalue()[start:]

    def error(self, line: str) -> str:
        """Run a line that must fail; return the one-line message."""
        from debugger.script.interpreter import ScriptError

        with pytest.raises(ScriptError) as ei:
            self.interp.feed(line)
        msg = str(ei.value)
        assert "\n" not in msg and "Traceback" not in msg
        return msg


@pytest.fixture
def drive():
    def make(source: str | None = None, **kw: object) -> Driver:
        from tests.cli.guests import HELLO

        return Driver(source or HELLO, **kw)
    return make
