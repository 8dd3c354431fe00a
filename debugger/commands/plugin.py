"""Plugin commands: plugin list / load / unload, and pcatch (plugin catchpoint kinds)."""
from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any, Iterable

from rich.table import Table

from debugger.commands import CommandError, command

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext
    from debugger.plugins.manager import PluginManager


def manager(ctx: "CommandContext") -> "PluginManager":
    """The session's plugin manager, printing through this context."""
    from debugger.plugins import manager_for

    mgr = manager_for(ctx.session)
    mgr.output = ctx.print
    mgr.error = ctx.error
    return mgr


def load_into(ctx: "CommandContext", spec: str, options: dict[str, str]) -> str:
    from debugger.plugins.manager import PluginError

    mgr = manager(ctx)
    try:
        p = mgr.load(spec, options)
    except PluginError as exc:
        raise CommandError(str(exc)) from None
    return f"Loaded plugin {p.name} ({p.source.describe()})."


def _complete(ctx: "CommandContext", text: str) -> Iterable[str]:
    from debugger.plugins.discovery import available

    return ["list", "load", "unload"] + [s.name for s in available()]


@command("plugin", category="misc", completer=_complete,
         usage="plugin [list] | plugin load NAME|PATH [KEY=VALUE...] | plugin unload NAME",
         help="List the plugins that can be loaded and those loaded, load one (by name from "
              "plugins/, BOOTDBG_PLUGIN_PATH or an installed 'bootdbg.plugins' entry point, or by "
              "file path), or unload one.")
def plugin(ctx: "CommandContext", args: str) -> Any:
    try:
        words = shlex.split(args)
    except ValueError as exc:
        raise CommandError(f"plugin: {exc}") from None
    sub = words[0] if words else "list"
    mgr = manager(ctx)
    if sub == "list":
        return _list(mgr)
    if sub == "load":
        if len(words) < 2:
            raise CommandError("plugin load needs a name or a path")
        opts = {}
        for w in words[2:]:
            k, eq, v = w.partition("=")
            if not eq or not k:
                raise CommandError(f"plugin load: option {w!r} is not KEY=VALUE")
            opts[k] = v
        return load_into(ctx, words[1], opts)
    if sub == "unload":
        from debugger.plugins.manager import PluginError

        if len(words) != 2:
            raise CommandError("plugin unload needs one plugin name")
        try:
            mgr.unload(words[1])
        except PluginError as exc:
            raise CommandError(str(exc)) from None
        return f"Unloaded plugin {words[1]}."
    raise CommandError(f"plugin: unknown subcommand {sub!r} (list, load, unload)")


def _list(mgr: "PluginManager") -> Any:
    from debugger.plugins.discovery import available

    loaded = {p.name: p for p in mgr.loaded()}
    t = Table(box=None, show_header=True, pad_edge=False)
    for col in ("plugin", "state", "from", "registered"):
        t.add_column(col)
    seen = set()
    for src in available():
        p = loaded.get(src.name)
        seen.add(src.name)
        t.add_row(src.name, "loaded" if p else "-", src.describe(),
                  _what(p) if p else "")
    for name, p in loaded.items():
        if name not in seen:
            t.add_row(name, "loaded", p.source.describe(), _what(p))
    return t


def _what(p: Any) -> str:
    return ", ".join(h.what.split(": ", 1)[1] for h in p.handles if h.active)


@command("pcatch", category="points", usage="pcatch KIND [ARGS...] [fail]",
         help="Set a catchpoint of a kind a plugin registered (plugin list shows them), e.g. "
              "pcatch ivt-hook 0x13 after plugin load bootkit.")
def pcatch(ctx: "CommandContext", args: str) -> str:
    from debugger.plugins import registry

    words = args.split()
    fail = bool(words) and words[-1] == "fail"
    if fail:
        words = words[:-1]
    if not words:
        kinds = ", ".join(sorted(registry.CATCH_KINDS)) or "none (load a plugin)"
        raise CommandError(f"pcatch needs a kind: {kinds}")
    mgr = manager(ctx)
    try:
        cp = mgr.catches.add(words[0], tuple(words[1:]), fail)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    return f"Catchpoint {cp.number}: {cp.describe()}"
