"""Context panes: pure functions `(ContextView, width) -> renderable`, registered by full name.

    @pane("regs", order=20, title="registers")
    def regs(view, width): ...

The context shows the panes in `order` (or in the order a caller names them).  Panes read only the
`ContextView` they are given (no session, no engine), so they are tested with plain data.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from debugger.ui.context import ContextView

__all__ = ["Pane", "pane", "unregister", "names", "all_panes", "get_pane"]


@dataclass(frozen=True)
class Pane:
    name: str
    order: int
    title: str
    fn: Callable[["ContextView", int], Any]
    plugin: str | None = None      # the plugin that registered it (shown while it is loaded)


_PANES: dict[str, Pane] = {}
_loaded = False


def pane(name: str, *, order: int, title: str | None = None, plugin: str | None = None
         ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in _PANES and _PANES[name].fn is not fn:
            raise ValueError(f"pane {name!r} registered twice")
        _PANES[name] = Pane(name, order, name if title is None else title, fn, plugin)
        return fn
    return deco


def unregister(name: str, fn: Callable[..., Any] | None = None) -> None:
    """Remove the pane `name` (only if it is still `fn`, when given); unknown names are ignored."""
    p = _PANES.get(name)
    if p is not None and (fn is None or p.fn is fn):
        del _PANES[name]


def names() -> list[str]:
    _load()
    return list(_PANES)


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def all_panes() -> list[Pane]:
    _load()
    return sorted(_PANES.values(), key=lambda p: p.order)


def get_pane(name: str) -> Pane:
    _load()
    try:
        return _PANES[name]
    except KeyError:
        raise KeyError(f"no context pane {name!r}; one of: "
                       + ", ".join(p.name for p in all_panes())) from None
