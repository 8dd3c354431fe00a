"""Drives the TUI Application with prompt_toolkit's pipe input and a fixed-size terminal output,
and reads back what is on the screen (the layout rendered at that size)."""
from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from prompt_toolkit.application import create_app_session
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

KEYS = {"F1": "\x1bOP", "F2": "\x1bOQ", "F5": "\x1b[15~", "F7": "\x1b[18~", "F8": "\x1b[19~",
        "F9": "\x1b[20~", "Tab": "\t", "Enter": "\r", "C-c": "\x03", "Down": "\x1b[B",
        "Up": "\x1b[A"}


class Tui:
    def __init__(self, app: Any, inp: Any, width: int, height: int) -> None:
        self.tui = app
        self.inp = inp
        self.width, self.height = width, height

    def screen(self) -> str:
        """The screen as the next redraw draws it (FormattedTextControls cache their text per
        redraw: a new count, so the status line is not the one of the app's last redraw)."""
        from debugger.ui.tui.layout import screen_text

        self.tui.app.render_counter += 1
        return "\n".join(screen_text(self.tui.app.layout.container, self.width, self.height))

    def pane(self, name: str) -> list[str]:
        """The characters of pane `name` as drawn on the screen now (its window's area; [] when
        the pane is not shown)."""
        rows = self.screen().splitlines()
        win = self.tui.tlayout.windows.get(name)
        info = win.render_info if win is not None else None
        if info is None or win not in self.tui.app.layout.find_all_windows():
            return []
        x, y = info._x_offset, info._y_offset
        return [rows[r][x:x + info.window_width].rstrip() if r < len(rows) else ""
                for r in range(y, y + info.window_height)]

    def output(self) -> str:
        """The output pane's lines, without colours or wrapping."""
        import re

        return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(self.tui.state.output))

    def send(self, *keys: str) -> None:
        for k in keys:
            self.inp.send_text(KEYS.get(k, k))

    def drained(self) -> bool:
        """Every key sent has been read from the pipe and handled (a key that starts a command
        has set `state.running` by then)."""
        import fcntl
        import struct
        import termios

        pending = fcntl.ioctl(self.inp.pipe.read_fd, termios.FIONREAD, b"\0\0\0\0")
        kp = self.tui.app.key_processor
        return struct.unpack("i", pending)[0] == 0 and not kp.input_queue and not kp.key_buffer

    def idle(self) -> bool:
        return self.drained() and not self.tui.runner.busy and not self.tui.state.running

    async def settle(self, timeout: float = 60.0) -> None:
        """Wait until the keys sent are handled and no command is running (states, not time)."""
        await self.wait_for(self.idle, timeout, what="the TUI command did not finish")

    async def command(self, line: str) -> None:
        """Type a command line (the command line has the focus) and wait for it to finish."""
        echo = f"(bootdbg) {line}"
        before = self.output().count(echo)
        self.send(line, "Enter")
        await self.wait_for(lambda: self.output().count(echo) > before and self.idle(),
                            60.0, what=f"{line!r} did not finish")

    async def wait_for(self, pred: Callable[[], bool], timeout: float = 30.0,
                       what: str = "condition not met") -> None:
        """Poll `pred` until it holds (the timeout only turns a hang into a failure)."""
        end = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > end:
                raise AssertionError(f"{what}; screen:\n" + self.screen())
            await asyncio.sleep(0.02)


def run_tui(image: Path | str | None, scenario: Callable[[Tui], Awaitable[None]], *,
            width: int = 120, height: int = 40, ctx: Any = None, **state: Any) -> Any:
    """Open `image` (or use `ctx`: the TUI entered again), run the TUI at width x height, play
    `scenario`, leave; returns the ctx."""
    from rich.console import Console

    from debugger.commands.context import CommandContext
    from debugger.engine.session import Session
    from debugger.script.interpreter import Interpreter
    from debugger.ui.tui.app import TuiApp
    from debugger.ui.tui.state import TuiState

    import os
    import tempfile

    # the command line's history must not go to the user's own history file
    os.environ.setdefault("BOOTDBG_HISTORY", os.path.join(tempfile.mkdtemp(), "history"))
    if ctx is None:
        ctx = CommandContext(Session(image), Console(file=io.StringIO(), width=120))
        ctx.interp = Interpreter(ctx)
    interp = ctx.interp
    out = Vt100_Output(io.StringIO(),  # type: ignore[arg-type]
                       lambda: Size(rows=height, columns=width), term="xterm")

    async def main() -> None:
        with create_pipe_input() as inp, create_app_session(input=inp, output=out):
            app = TuiApp(ctx, interp, state=TuiState(**state))
            task = asyncio.ensure_future(app.run_async())
            drv = Tui(app, inp, width, height)
            try:
                await drv.wait_for(lambda: app.app.is_running and app.view is not None)
                await scenario(drv)
            finally:
                app.leave()
                await asyncio.wait_for(task, 30)
    asyncio.run(main())
    return ctx
