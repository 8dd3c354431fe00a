"""Where plugins come from: the in-tree `plugins/` folder, `BOOTDBG_PLUGIN_PATH` folders, a file
path, or an installed distribution's entry point in the group `bootdbg.plugins`.

Nothing is imported while listing; a plugin module is imported only when it is loaded.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from debugger.images import shipped_dir

__all__ = ["Source", "available", "resolve", "import_source", "ENTRY_POINT_GROUP", "plugin_dirs",
           "PluginNotFound"]

ENTRY_POINT_GROUP = "bootdbg.plugins"
IN_TREE = shipped_dir("plugins")      # the checkout's plugins/, or their copy in a wheel


class PluginNotFound(Exception):
    """No plugin by that name or path (one line)."""


@dataclass(frozen=True)
class Source:
    name: str
    origin: str          # "in-tree" | "path" | "entry-point"
    location: str        # file path, or "module:attr" of the entry point
    entry_point: Any = None

    def describe(self) -> str:
        return f"{self.origin} {self.location}"


def plugin_dirs() -> list[Path]:
    dirs = [IN_TREE]
    for part in os.environ.get("BOOTDBG_PLUGIN_PATH", "").split(os.pathsep):
        if part.strip():
            dirs.append(Path(part).expanduser())
    return dirs


def _in_dir(d: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    if not d.is_dir():
        return found
    for p in sorted(d.iterdir()):
        if p.name.startswith(("_", ".")):
            continue
        if p.suffix == ".py" and p.is_file():
            found[p.stem] = p
        elif p.is_dir() and (p / "__init__.py").is_file():
            found[p.name] = p / "__init__.py"
    return found


def _entry_points() -> list[Any]:
    try:
        return list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    except Exception:           # a broken distribution must not break listing
        return []


def available() -> list[Source]:
    """Every plugin that can be loaded by name (the first of a name wins, in this order)."""
    out: dict[str, Source] = {}
    for i, d in enumerate(plugin_dirs()):
        for name, path in _in_dir(d).items():
            out.setdefault(name, Source(name, "in-tree" if i == 0 else "path", str(path)))
    for ep in _entry_points():
        out.setdefault(ep.name, Source(ep.name, "entry-point", ep.value, ep))
    return sorted(out.values(), key=lambda s: s.name)


def _looks_like_path(spec: str) -> bool:
    return spec.endswith(".py") or os.sep in spec or "/" in spec


def resolve(spec: str) -> Source:
    """The plugin `spec` names: a file or package folder path, else a name."""
    spec = spec.strip()
    if not spec:
        raise PluginNotFound("plugin needs a name or a path")
    if _looks_like_path(spec):
        p = Path(spec).expanduser()
        if p.is_dir() and (p / "__init__.py").is_file():
            p = p / "__init__.py"
        if not p.is_file():
            raise PluginNotFound(f"plugin file {spec} not found")
        name = p.parent.name if p.name == "__init__.py" else p.stem
        return Source(name, "path", str(p.resolve()))
    for src in available():
        if src.name == spec:
            return src
    names = ", ".join(s.name for s in available()) or "none"
    raise PluginNotFound(f"no plugin named {spec!r} (available: {names})")


def import_source(src: Source) -> ModuleType | Any:
    """Import the plugin: a module (with setup), or an entry point's object (module or setup)."""
    if src.origin == "entry-point":
        return src.entry_point.load()
    path = Path(src.location)
    modname = f"bootdbg_plugin_{src.name}"
    pkg = path.name == "__init__.py"
    spec = importlib.util.spec_from_file_location(
        modname, path, submodule_search_locations=[str(path.parent)] if pkg else None)
    if spec is None or spec.loader is None:
        raise PluginNotFound(f"cannot import plugin file {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(modname, None)
        raise
    return mod
