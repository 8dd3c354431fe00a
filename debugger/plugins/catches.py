"""Plugin catchpoint kinds: numbered catchpoints in the session's point table (so `info
breakpoints`, `delete`, `disable` and `ignore` work on them), matched against machine events.

When a kind's `match(event, args)` returns a message, the run ends at the next instruction
boundary; the stop that the session returns is renamed to the kind (`ev.kind`), carries the
point number and the message, and counts as a hit.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from debugger.engine.points import Catchpoint
from debugger.plugins import registry

if TYPE_CHECKING:
    from debugger.plugins.manager import PluginManager

__all__ = ["PluginCatches"]


class PluginCatches:
    def __init__(self, mgr: "PluginManager") -> None:
        self.mgr = mgr
        self._unsub: Any = None
        self._fired: tuple[int, str, str] | None = None

    def arm(self) -> None:
        if self._unsub is None:
            self._unsub = self.mgr.session.machine.events.subscribe(self._on_event)

    def add(self, kind: str, args: tuple[str, ...], fail: bool = False) -> Catchpoint:
        if kind not in registry.CATCH_KINDS:
            known = ", ".join(sorted(registry.CATCH_KINDS)) or "none (load a plugin)"
            raise ValueError(f"unknown plugin catchpoint kind {kind!r}; one of: {known}")
        self.arm()
        cp = Catchpoint(catch=kind, args=tuple(args), fail=fail)
        self.mgr.session.points.add(cp)
        return cp

    def _on_event(self, ev: Any) -> None:
        if self._fired is not None or not registry.CATCH_KINDS:
            return
        for cp in self.mgr.session.points.active(Catchpoint):
            kind = registry.CATCH_KINDS.get(cp.catch)
            if kind is None:
                continue
            msg = kind.match(ev, cp.args)
            if not msg:
                continue
            if cp.ignore > 0:
                cp.ignore -= 1
                cp.hits += 1                 # (an ignored catch counts, as in gdb)
                continue
            self._fired = (cp.number, cp.catch, str(msg))
            m = self.mgr.session.machine
            try:
                m.request_stop("interrupt", str(msg), plugin_catch=cp.catch, point=cp.number)
            except Exception:          # the engine is at rest: the run loop sees _external
                pass
            return

    def after_stop(self, ev: Any) -> None:
        fired, self._fired = self._fired, None
        if fired is None or ev.kind != "interrupt" or ev.details.get("plugin_catch") is None:
            return
        number, kind, msg = fired
        ev.kind = kind
        ev.point = number
        ev.message = msg
        pts = self.mgr.session.points
        try:
            cp = pts.get(number)
        except KeyError:
            return
        cp.hits += 1
        if cp.temporary:
            pts.delete(number)
