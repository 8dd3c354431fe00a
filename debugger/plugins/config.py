"""Which plugins to load at start-up: `--plugin SPEC` options and the config file.

The config file is `$BOOTDBG_CONFIG`, else `~/.config/bootdbg/config.toml`:

    [plugins]
    load = ["disklog", "bootkit"]

    [plugins.options.disklog]
    csv = "disk.csv"

A SPEC is a name or path, optionally followed by `:key=value,key=value` options
(`--plugin disklog:csv=out.csv`).
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

__all__ = ["config_path", "configured_plugins", "parse_spec", "ConfigError"]


class ConfigError(Exception):
    """The config file cannot be used (one line)."""


def config_path() -> Path:
    env = os.environ.get("BOOTDBG_CONFIG")
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "bootdbg" / "config.toml"


def configured_plugins(path: Path | None = None) -> list[tuple[str, dict[str, str]]]:
    """(spec, options) for each plugin the config file names, in order."""
    path = path or config_path()
    if not path.is_file():
        return []
    try:
        from debugger.userfile import CONFIG_CAP, UserFileError, read_capped

        data = tomllib.loads(read_capped(path, CONFIG_CAP, what="config file").decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, UserFileError) as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    section = data.get("plugins", {})
    load = section.get("load", [])
    if not isinstance(load, list) or not all(isinstance(x, str) for x in load):
        raise ConfigError(f"config file {path}: [plugins] load must be a list of names")
    opts = section.get("options", {})
    out = []
    for spec in load:
        o = opts.get(spec, {}) if isinstance(opts, dict) else {}
        out.append((spec, {str(k): str(v) for k, v in o.items()} if isinstance(o, dict) else {}))
    return out


def parse_spec(text: str) -> tuple[str, dict[str, str]]:
    """'disklog:csv=a.csv,json=b.json' -> ('disklog', {...}); a path may contain ':' only on
    Windows drive letters, which bootdbg does not run on."""
    name, _, rest = text.partition(":")
    opts: dict[str, str] = {}
    for item in filter(None, (x.strip() for x in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ConfigError(f"plugin option {item!r}: expected KEY=VALUE")
        opts[key.strip()] = value.strip()
    return name.strip(), opts
