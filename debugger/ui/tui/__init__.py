"""The full-screen TUI (`bootdbg --tui`, `tui`/`layout` at the prompt): registers, segment
caches with the VM-entry verdict, code, stack, memory, the VGA screen, serial and the event
timeline at once, with the REPL's command line at the bottom.

Modules: `app` (the Application over a CommandContext), `layout` (containers), `key_bindings`,
`state` (UI-only state and the layout file), `view` (the session snapshot panes render),
`panes`/`io_panes` (pure pane functions), `styles` (themes and rich -> prompt_toolkit),
`runner` (the worker thread that runs the guest), `scrolling`.  The engine never imports this.
"""
from __future__ import annotations

from typing import Any

__all__ = ["run_tui", "TuiApp", "active_tui"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from debugger.ui.tui import app

        return getattr(app, name)
    raise AttributeError(name)
