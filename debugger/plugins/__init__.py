"""Plugins: Python modules that extend bootdbg through `setup(api)` (and optional `teardown()`).

    def setup(api):
        api.register_command("hello", lambda ctx, args: "hello from a plugin")
        api.hook_bios("before", 0x13, 0x02, lambda call: api.print(f"read {call.al} sectors"))

Discovery (`debugger.plugins.discovery`): by name from the in-tree `plugins/` folder and
`BOOTDBG_PLUGIN_PATH`, by file path, or from installed distributions' entry points in the group
`bootdbg.plugins`.  Nothing loads unless named (`--plugin NAME`, `plugin load NAME`, or the
`[plugins] load = [...]` list of the config file).  The API is `debugger.plugins.api.PluginApi`;
every registration returns a `Handle` with `remove()`.
"""
from __future__ import annotations

__all__ = ["manager_for", "PluginError", "PluginApi", "Handle"]


def __getattr__(name: str) -> object:
    if name == "manager_for":
        from debugger.plugins.manager import manager_for
        return manager_for
    if name == "PluginError":
        from debugger.plugins.manager import PluginError
        return PluginError
    if name == "PluginApi":
        from debugger.plugins.api import PluginApi
        return PluginApi
    if name == "Handle":
        from debugger.plugins.registry import Handle
        return Handle
    raise AttributeError(name)
