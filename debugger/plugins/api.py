"""`PluginApi`: what a plugin's `setup(api)` gets.  Every `register_*`, `hook_*`, `add_*` and
`on_*` method returns a `Handle` whose `remove()` undoes it; unloading a plugin removes all of
its handles (newest first).  Every function a plugin hands in is guarded: if it raises, the
plugin is reported by name and unloaded, and the session goes on.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

from debugger.errors import CommandError, SessionOver
from debugger.plugins import registry
from debugger.plugins.registry import Handle

if TYPE_CHECKING:
    from debugger.engine.session import Session
    from debugger.machine.bus import Device
    from debugger.machine.pc import Machine
    from debugger.plugins.manager import Plugin, PluginManager

__all__ = ["PluginApi"]


class PluginApi:
    def __init__(self, manager: "PluginManager", plugin: "Plugin") -> None:
        self._mgr = manager
        self._plugin = plugin
        self.name = plugin.name
        self.options: dict[str, str] = dict(plugin.options)

    # -- what the plugin can see ------------------------------------------------------------------
    @property
    def session(self) -> "Session":
        return self._mgr.session

    @property
    def machine(self) -> "Machine":
        return self._mgr.session.machine

    def print(self, *objects: Any) -> None:
        """Show output to the user (the REPL console, or stderr)."""
        self._mgr.output(*objects)

    def emit(self, kind: str, message: str, **details: Any) -> None:
        """Add an event to the machine's event log (shown in the context; catchpoints see it)."""
        self.machine.events.emit(kind, message, plugin=self.name, **details)

    # -- registration -----------------------------------------------------------------------------
    def _keep(self, what: str, undo: Callable[[], None]) -> Handle:
        h = Handle(f"{self.name}: {what}", undo)
        self._plugin.handles.append(h)
        return h

    def _guard(self, what: str, fn: Callable[..., Any], passthrough: tuple[type, ...] = ()
               ) -> Callable[..., Any]:
        return self._mgr.guard(self._plugin, what, fn, passthrough)

    def register_command(self, name: str, fn: Callable[[Any, str], Any], *, help: str = "",
                         usage: str = "", aliases: Iterable[str] = (), category: str = "misc",
                         completer: Callable[..., Iterable[str]] | None = None,
                         repeatable: bool = False) -> Handle:
        """A command for the REPL, scripts and the TUI command line: `fn(ctx, args)`."""
        wrapped = self._guard(f"command {name}", fn, (CommandError, SessionOver))
        undo = registry.add_command(name, wrapped, help=help or f"(from plugin {self.name})",
                                    usage=usage or name, aliases=tuple(aliases),
                                    category=category, completer=completer,
                                    repeatable=repeatable)
        return self._keep(f"command {name}", undo)

    def register_catch_kind(self, name: str, match: Callable[[Any, tuple[Any, ...]], str | None],
                            help: str = "") -> Handle:
        """A catchpoint kind armed with `pcatch NAME [ARGS]`: `match(event, args)` sees every
        machine event and returns a message to stop there, or None."""
        from debugger.engine.points import CATCH_KINDS

        if name in CATCH_KINDS or name in registry.CATCH_KINDS:
            raise ValueError(f"catchpoint kind {name!r} is already taken")
        registry.CATCH_KINDS[name] = registry.CatchKind(
            name, self.name, self._guard(f"catch kind {name}", match), help)
        self._mgr.catches.arm()
        return self._keep(f"catch kind {name}",
                          lambda: registry.CATCH_KINDS.pop(name, None) and None)

    def register_profile(self, name: str, description: str, build: Callable[..., Any],
                         rules: Iterable[Any]) -> Handle:
        """A guest-state checker profile (see `debugger.checks.profiles.Profile`)."""
        from debugger.checks import PROFILES, Profile

        if name in PROFILES:
            raise ValueError(f"profile {name!r} is already taken")
        PROFILES[name] = Profile(name, description, self._guard(f"profile {name}", build),
                                 tuple(rules))
        return self._keep(f"profile {name}", lambda: PROFILES.pop(name, None) and None)

    def register_pane(self, name: str, fn: Callable[[Any, int], Any], *, order: int = 100,
                      title: str | None = None) -> Handle:
        """A pane `fn(view, width) -> renderable` for the context view and the TUI."""
        from debugger.ui import panes

        if name in panes.names() or name in registry.PANES:
            raise ValueError(f"pane {name!r} is already taken")
        wrapped = self._guard(f"pane {name}", fn)
        registry.PANES[name] = registry._PaneEntry(name, self.name, wrapped, title or name, order)
        panes.pane(name, order=order, title=title, plugin=self.name)(wrapped)

        def undo() -> None:
            registry.PANES.pop(name, None)
            panes.unregister(name, wrapped)
        return self._keep(f"pane {name}", undo)

    def register_exporter(self, name: str, fn: Callable[..., Any], help: str = "") -> Handle:
        """A trace format for `bootdbg trace export TRACE --plugin P --format NAME`:
        `fn(stream, out, start=N, stop=M)` writes the recording's instructions (`stream` is a
        `debugger.trace.istream.InstructionStream`; `stream.items(start, stop)` yields Step,
        Event and End) to the text file `out`."""
        if name in registry.EXPORTERS:
            raise ValueError(f"exporter {name!r} is already taken")
        registry.EXPORTERS[name] = registry.Exporter(
            name, self.name, self._guard(f"exporter {name}", fn), help)
        return self._keep(f"exporter {name}",
                          lambda: registry.EXPORTERS.pop(name, None) and None)

    # -- BIOS and devices --------------------------------------------------------------------------
    def hook_bios(self, phase: str, vector: int, ah: int | None,
                  fn: Callable[[Any], object]) -> Handle:
        """Run `fn(call)` before / instead of / after the BIOS service `vector` (AH `ah`, or every
        function for None).  Hooks of one phase run in the order they were added."""
        hook = self.machine.bios.add_hook(phase, vector, ah,
                                          self._guard(f"INT {vector:02X}h hook", fn))
        return self._keep(f"{phase} INT {vector:02X}h", hook.remove)

    def add_device(self, device: "Device") -> Handle:
        """Attach an I/O-port device model (its ports take precedence while attached)."""
        from debugger.plugins.devices import attach_guarded

        undo = attach_guarded(self.machine.bus, device,
                              lambda what, fn: self._guard(f"device {device.name} {what}", fn))
        return self._keep(f"device {device.name}", undo)

    # -- subscribers -------------------------------------------------------------------------------
    def on_stop(self, fn: Callable[[Any], None]) -> Handle:
        """`fn(stop_event)` after every run of the session."""
        g = self._guard("stop subscriber", fn)
        subs = self.session.on_stop
        subs.append(g)
        return self._keep("on_stop", lambda: g in subs and subs.remove(g) and None)

    def on_event(self, kinds: str | Iterable[str] | None, fn: Callable[[Any], None]) -> Handle:
        """`fn(event)` for every machine event (of `kinds`; None for all): "bios", "disk",
        "exception", "a20", "reset", "triple-fault", "io-unknown", ..."""
        wanted = None if kinds is None else ({kinds} if isinstance(kinds, str) else set(kinds))
        g = self._guard("event subscriber", fn)

        def sub(ev: Any) -> None:
            if wanted is None or ev.kind in wanted:
                g(ev)
        return self._keep("on_event", self.machine.events.subscribe(sub))

    def on_disk(self, fn: Callable[[Any], None]) -> Handle:
        """`fn(event)` for every INT 13h transfer (details: drive, op, lba, chs, count, buffer,
        status, caller)."""
        return self.on_event("disk", fn)

    def on_interrupt(self, fn: Callable[[Any], None]) -> Handle:
        """`fn(Interrupt)` for every interrupt, IRQ and exception delivered to the guest."""
        return self._keep("on_interrupt", self._mgr.taps.add_interrupt(
            self._guard("interrupt subscriber", fn)))

    def on_mode_change(self, fn: Callable[[Any], None]) -> Handle:
        """`fn(ModeChange)` when the CPU mode (real, unreal, pm16, pm32, vm86, ...) changes."""
        return self._keep("on_mode_change", self._mgr.taps.add_mode(
            self._guard("mode subscriber", fn)))

    def on_block(self, fn: Callable[[int, int, int], None]) -> Handle:
        """`fn(linear, size, icount)` before every basic block the guest executes (slow: use it
        for profiling, not in plugins meant to stay loaded)."""
        return self._keep("on_block", self._mgr.taps.add_block(
            self._guard("block subscriber", fn)))

    def on_memory(self, first: int, last: int, fn: Callable[[Any], None],
                  access: str = "write") -> Handle:
        """`fn(MemoryAccess)` for guest writes (or reads, "access") to physical [first, last];
        the guest does not stop."""
        if access not in ("write", "read", "access"):
            raise ValueError(f"unknown access {access!r}")
        return self._keep(f"on_memory {first:#x}-{last:#x}", self._mgr.taps.add_memory(
            first, last, access, self._guard("memory subscriber", fn)))
