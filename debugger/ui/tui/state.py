"""`TuiState`: what only the TUI knows -- focused pane, scroll offsets, the code cursor, the
memory pane's expression, the selected event, theme and layout -- and the layout config file.

The session owns the machine and the points; this object owns nothing else.  It is plain data
so the panes (pure functions of a `TuiView` and this state) are tested without an Application.
The layout choice is saved to / loaded from a JSON file: $BOOTDBG_TUI_CONFIG, else
$XDG_CONFIG_HOME/bootdbg/tui.json (~/.config/bootdbg/tui.json).
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from debugger.ui.tui.codeview import KnownStarts
from debugger.ui.tui.view import TimelineEntry

__all__ = ["TuiState", "ALL_PANES", "LAYOUTS", "config_path", "ConfigError", "parse_detail"]

# Every pane the TUI can show, in focus (Tab) order.
ALL_PANES = ("regs", "segments", "code", "stack", "memory", "screen", "serial", "events",
             "output")
# "auto" picks by terminal size: wide (>= 210x45), tall (>= 110x32), tabs (anything smaller).
LAYOUTS = ("auto", "wide", "tall", "tabs")
THEME_NAMES = ("dark", "light", "plain")


TIMELINE_DETAILS = "a number of transitions per continue, full, steps or off"


def parse_detail(text: str) -> tuple[bool, int | None] | None:
    """`tui timeline` values: (transitions on, budget per continue); None if not one."""
    t = text.strip().lower()
    if t == "full":
        return True, None
    if t == "steps":
        return True, 0
    if t == "off":
        return False, 0
    if t.isdigit():
        return True, int(t)
    return None


class ConfigError(Exception):
    """A layout file that cannot be read or written: one line."""


def config_path() -> Path:
    env = os.environ.get("BOOTDBG_TUI_CONFIG")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "bootdbg" / "tui.json"


@dataclass
class TuiState:
    focus: str = "cmdline"                    # a pane name or "cmdline"
    layout: str = "auto"
    panes: list[str] = field(default_factory=lambda: list(ALL_PANES))   # shown panes
    active: dict[str, str] = field(default_factory=dict)   # slot key -> pane shown in a tab slot
    scroll: dict[str, int] = field(default_factory=dict)   # pane -> first line (memory: bytes)
    code_cursor: int | None = None            # linear address of the cursor line (None: CS:EIP)
    code_anchor: int | None = None            # listing centred here (None: CS:EIP)
    mem_expr: str = "ds:si"
    mem_space: str = "linear"
    mem_rows: int = 16
    mem_per: int = 16                         # bytes per row the memory pane shows (its width)
    selected_event: int | None = None         # index into the timeline (None: the newest)
    theme: str = "dark"
    show_help: bool = False
    help_top: int = 0                         # first help line shown (a short terminal pages)
    message: str = ""                         # one line in the status bar
    run_note: str = ""                        # while a command runs ("stopping..."): not after
    code_before: int = 12
    code_after: int = 60
    stack_slots: int = 48
    timeline_max: int = 2000
    timeline_detail: str = "500"              # transitions per continue: N, full, steps, off
    timeline_cache: tuple[Any, list[TimelineEntry]] | None = field(default=None, repr=False)
    keep_selection: bool = False              # the next stop keeps the selected event (a jump)
    known_starts: KnownStarts = field(default_factory=KnownStarts, repr=False)
    output: list[str] = field(default_factory=list)    # command output lines (ANSI)
    output_max: int = 5000
    running: str = ""                         # the command line being run ("" when idle)
    run_started: float = 0.0
    run_icount: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- panes and focus --------------------------------------------------------------------------
    def focus_order(self, shown: list[str]) -> list[str]:
        # (plugin panes are not in ALL_PANES: they are shown while their plugin is loaded)
        return [p for p in shown if p in self.panes or p not in ALL_PANES] + ["cmdline"]

    def cycle_focus(self, shown: list[str], step: int = 1) -> str:
        order = self.focus_order(shown)
        i = order.index(self.focus) if self.focus in order else -1
        self.focus = order[(i + step) % len(order)]
        return self.focus

    def scroll_by(self, pane: str, delta: int) -> None:
        self.scroll[pane] = max(0, self.scroll.get(pane, 0) + delta) if pane != "memory" \
            else self.scroll.get(pane, 0) + delta

    def add_output(self, text: str) -> None:
        with self.lock:
            self.output.extend(text.splitlines() or [""])
            if len(self.output) > self.output_max:
                del self.output[:len(self.output) - self.output_max]

    def at_stop(self) -> None:
        """A new stop: the code pane follows CS:EIP again, the memory pane its expression."""
        self.code_cursor = None
        self.code_anchor = None
        self.scroll["code"] = 0
        self.scroll["memory"] = 0
        self.scroll.pop("stack", None)

    # -- config -----------------------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        return {"layout": self.layout, "panes": list(self.panes), "theme": self.theme,
                "memory": {"expr": self.mem_expr, "space": self.mem_space},
                "timeline": self.timeline_detail}

    def apply_config(self, cfg: dict[str, Any]) -> None:
        if not isinstance(cfg, dict):
            raise ConfigError("layout file: not a JSON object")
        layout = cfg.get("layout", self.layout)
        if layout not in LAYOUTS:
            raise ConfigError(f"layout file: unknown layout {layout!r}; one of: "
                              + ", ".join(LAYOUTS))
        panes = cfg.get("panes", self.panes)
        if not isinstance(panes, list) or any(p not in ALL_PANES for p in panes):
            raise ConfigError("layout file: panes must be a list of: " + ", ".join(ALL_PANES))
        theme = cfg.get("theme", self.theme)
        if theme not in THEME_NAMES:
            raise ConfigError(f"layout file: unknown theme {theme!r}")
        mem = cfg.get("memory", {})
        detail = str(cfg.get("timeline", self.timeline_detail))
        if parse_detail(detail) is None:
            raise ConfigError(f"layout file: timeline must be {TIMELINE_DETAILS}")
        self.layout, self.panes, self.theme = layout, list(panes), theme
        self.timeline_detail = detail
        if isinstance(mem, dict):
            self.mem_expr = str(mem.get("expr", self.mem_expr))
            if mem.get("space") in ("linear", "physical"):
                self.mem_space = mem["space"]

    def save(self, path: str | Path | None = None) -> Path:
        p = Path(path).expanduser() if path else config_path()
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(self.to_config(), indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{p}: {exc.strerror or exc}") from None
        return p

    def load(self, path: str | Path | None = None, *, missing_ok: bool = False) -> Path:
        from debugger.userfile import CONFIG_CAP, read_capped

        p = Path(path).expanduser() if path else config_path()
        if missing_ok and not os.path.lexists(p):
            return p
        text = read_capped(p, CONFIG_CAP, what="layout file", error=ConfigError).decode(
            "utf-8", errors="replace")
        try:
            cfg = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{p}: not JSON: {exc}") from None
        self.apply_config(cfg)
        return p
