"""`PluginManager`: the plugins loaded into one session.

    mgr = manager_for(session)
    mgr.load("disklog")            # by name (plugins/, BOOTDBG_PLUGIN_PATH, entry points)
    mgr.load("./my_plugin.py")     # by path
    mgr.unload("disklog")

A plugin that raises -- in setup, in teardown, or in any function it registered -- is reported
with its name and unloaded; the session goes on.  Its functions are disabled at once and its
registrations removed at the next safe point (the end of the current run, or at once when the
guest is not running).
"""
from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable

from debugger.plugins.discovery import PluginNotFound, Source, import_source, resolve
from debugger.plugins.registry import Handle

if TYPE_CHECKING:
    from debugger.engine.session import Session

__all__ = ["Plugin", "PluginManager", "PluginError", "manager_for"]


class PluginError(Exception):
    """A plugin could not be loaded or failed (one line)."""


@dataclass
class Plugin:
    name: str
    source: Source
    options: dict[str, str] = field(default_factory=dict)
    module: Any = None
    handles: list[Handle] = field(default_factory=list)
    active: bool = True
    teardown: Callable[[], Any] | None = None


class PluginManager:
    def __init__(self, session: "Session") -> None:
        from debugger.plugins.catches import PluginCatches
        from debugger.plugins.taps import Taps

        self.session = session
        self.plugins: dict[str, Plugin] = {}
        self.failures: list[str] = []
        self.output: Callable[..., None] = _stdout
        self.error: Callable[[str], None] = _stderr
        self.taps = Taps(session.machine)
        self.catches = PluginCatches(self)
        self._doomed: list[Plugin] = []
        self._running = False
        session.on_stop.append(self._after_stop)

    # -- loading ----------------------------------------------------------------------------------
    def load(self, spec: str, options: dict[str, str] | None = None) -> Plugin:
        from debugger.plugins.api import PluginApi

        self.flush()
        try:
            src = resolve(spec)
        except PluginNotFound as exc:
            raise PluginError(str(exc)) from None
        if src.name in self.plugins:
            raise PluginError(f"plugin {src.name} is already loaded")
        plugin = Plugin(src.name, src, dict(options or {}))
        try:
            mod = import_source(src)
        except Exception as exc:
            raise PluginError(f"plugin {src.name}: import failed: {_exc_line(exc)}") from None
        setup = getattr(mod, "setup", None) if isinstance(mod, ModuleType) else mod
        if not callable(setup):
            raise PluginError(f"plugin {src.name} ({src.describe()}) has no setup(api)")
        plugin.module = mod
        if isinstance(mod, ModuleType) and callable(getattr(mod, "teardown", None)):
            plugin.teardown = mod.teardown
        self.plugins[src.name] = plugin
        try:
            result = setup(PluginApi(self, plugin))
        except Exception as exc:
            self._remove(plugin)
            msg = f"plugin {src.name} failed in setup: {_exc_line(exc)}; unloaded"
            self.failures.append(msg)
            raise PluginError(msg) from None
        if callable(result) and plugin.teardown is None:
            plugin.teardown = result            # setup may return its own teardown
        return plugin

    def unload(self, name: str) -> None:
        plugin = self.plugins.get(name)
        if plugin is None:
            raise PluginError(f"plugin {name} is not loaded")
        err = None
        if plugin.teardown is not None and plugin.active:
            try:
                plugin.teardown()
            except Exception as exc:
                err = f"plugin {name} failed in teardown: {_exc_line(exc)}; unloaded"
        self._remove(plugin)
        if err:
            self.failures.append(err)
            raise PluginError(err)

    def unload_all(self) -> None:
        for name in list(self.plugins)[::-1]:
            try:
                self.unload(name)
            except PluginError as exc:
                self.error(str(exc))

    def _remove(self, plugin: Plugin) -> None:
        plugin.active = False
        for h in reversed(plugin.handles):
            try:
                h.remove()
            except Exception:          # removal must go on for the other handles
                pass
        plugin.handles.clear()
        if self.plugins.get(plugin.name) is plugin:
            del self.plugins[plugin.name]

    # -- failures ---------------------------------------------------------------------------------
    def guard(self, plugin: Plugin, what: str, fn: Callable[..., Any],
              passthrough: tuple[type, ...] = ()) -> Callable[..., Any]:
        def guarded(*args: Any, **kw: Any) -> Any:
            if not plugin.active:
                return None
            try:
                return fn(*args, **kw)
            except passthrough:
                raise
            except Exception as exc:
                self.fail(plugin, what, exc)
                return None
        guarded.__name__ = getattr(fn, "__name__", "plugin_function")
        guarded.__doc__ = getattr(fn, "__doc__", None)
        return guarded

    def fail(self, plugin: Plugin, what: str, exc: BaseException) -> None:
        if not plugin.active:
            return
        plugin.active = False
        msg = f"plugin {plugin.name} failed in {what}: {_exc_line(exc)}; unloaded"
        self.failures.append(msg)
        self.error(msg)
        self._doomed.append(plugin)
        if not self._engine_busy():
            self.flush()

    def flush(self) -> None:
        """Remove the registrations of plugins that failed (called at safe points)."""
        doomed, self._doomed = self._doomed, []
        for p in doomed:
            self._remove(p)

    def _engine_busy(self) -> bool:
        lock = getattr(self.session, "_lock", None)
        return bool(lock is not None and lock.locked())

    def _after_stop(self, ev: Any) -> None:
        self.catches.after_stop(ev)
        self.flush()

    # -- listing ----------------------------------------------------------------------------------
    def loaded(self) -> list[Plugin]:
        return list(self.plugins.values())


def _exc_line(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = ""
    if tb:
        last = tb[-1]
        where = f" ({last.filename.rsplit('/', 1)[-1]}:{last.lineno})"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}{': ' + text if text else ''}{where}"


def _stdout(*objects: Any) -> None:
    print(*objects)


def _stderr(msg: str) -> None:
    print(f"bootdbg: {msg}", file=sys.stderr)


def manager_for(session: "Session") -> PluginManager:
    """The plugin manager of `session` (created on first use, kept on the session)."""
    mgr = getattr(session, "plugin_manager", None)
    if mgr is None:
        mgr = PluginManager(session)
        session.plugin_manager = mgr  # type: ignore[attr-defined]
    return mgr
