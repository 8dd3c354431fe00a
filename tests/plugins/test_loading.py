"""Plugin discovery and loading (name, path, entry point), the API's handles, and failures."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.plugins.conftest import IMAGES, PLUGINS, ROOT

IN_TREE = {"bootkit": "bootkit", "disklog": "disklog", "screenshot": "screenshot",
           "emucost": "emucost"}


def _spec(way: str, name: str) -> str:
    return {"name": name, "path": str(PLUGINS / f"{name}.py"), "entry-point": f"ep-{name}"}[way]


@pytest.mark.parametrize("way", ["name", "path", "entry-point"])
@pytest.mark.parametrize("name", sorted(IN_TREE))
def test_each_plugin_loads_three_ways(drive, ep_site, tmp_path, way, name):
    d = drive("hello.img")
    out = d(f"plugin load {_spec(way, name)}")
    assert "Loaded plugin" in out
    listing = d("plugin list")
    loaded = [ln for ln in listing.splitlines() if " loaded " in ln]
    assert len(loaded) == 1 and f"command {IN_TREE[name]}" in loaded[0]
    d("continue")
    line = IN_TREE[name] + (f" {tmp_path}/shot.svg" if name == "screenshot" else "")
    got = d(line)
    assert got.strip() and "Traceback" not in got
    expect = {"bootkit": "Nothing suspicious", "disklog": "read 1 at LBA 1",
              "screenshot": "Saved screen and serial console", "emucost": "vmx-ug"}[name]
    assert expect in got, got
    d(f"plugin unload {_spec(way, name) if way == 'entry-point' else name}")
    assert "undefined command" in d.error(IN_TREE[name])


def test_list_shows_available_and_nothing_loads_unless_named(drive, ep_site):
    d = drive("hello.img")
    out = d("plugin list")
    for n in IN_TREE:
        assert any(ln.split()[:2] == [n, "-"] for ln in out.splitlines()), out
        assert any(ln.split()[:3] == [f"ep-{n}", "-", "entry-point"] for ln in out.splitlines())
    assert "undefined command" in d.error("disklog")


def test_unknown_plugin_and_bad_file(drive, tmp_path):
    d = drive("hello.img")
    assert "no plugin named 'nope'" in d.error("plugin load nope")
    assert "not found" in d.error(f"plugin load {tmp_path}/missing.py")
    bad = tmp_path / "nosetup.py"
    bad.write_text("x = 1\n")
    assert "has no setup(api)" in d.error(f"plugin load {bad}")
    syn = tmp_path / "syntax.py"
    syn.write_text("def setup(api:\n")
    assert "import failed: SyntaxError" in d.error(f"plugin load {syn}")


def test_failing_setup_is_reported_and_unloaded(drive, tmp_path):
    p = tmp_path / "halfway.py"
    p.write_text("def setup(api):\n"
                 "    api.register_command('halfway', lambda ctx, a: 'x')\n"
                 "    api.hook_bios('before', 0x10, None, lambda call: None)\n"
                 "    raise RuntimeError('boom in setup')\n")
    d = drive("hello.img")
    msg = d.error(f"plugin load {p}")
    assert msg.startswith("plugin halfway failed in setup: RuntimeError: boom in setup")
    assert msg.endswith("unloaded")
    assert "undefined command" in d.error("halfway")
    assert d.session.machine.bios.hooks == []
    assert "halfway" not in d("plugin list")
    assert d("continue").startswith("Stop #1 halted")          # the session goes on


def test_plugin_raising_at_run_time_is_unloaded_and_run_goes_on(drive, tmp_path):
    p = tmp_path / "crashy.py"
    p.write_text("seen = []\n"
                 "def setup(api):\n"
                 "    api.register_command('crashy', lambda ctx, a: 1 / 0)\n"
                 "    def hook(call):\n"
                 "        seen.append(call.ah)\n"
                 "        if len(seen) == 3:\n"
                 "            raise KeyError('third call')\n"
                 "    api.hook_bios('before', 0x10, None, hook)\n"
                 "    api.on_event('disk', lambda ev: None)\n")
    d = drive("hello.img")
    d(f"plugin load {p}")
    out = d("continue")
    err = d.err.getvalue()
    assert "plugin crashy failed in INT 10h hook: KeyError: 'third call'" in err
    assert out.startswith("Stop #1 halted")
    assert "DONE" in d.session.serial.decode()                  # the guest ran to its end
    assert d.session.machine.bios.hooks == []                    # removed after the run
    assert "undefined command" in d.error("crashy")
    assert "crashy" not in d("plugin list")


def test_command_raising_is_reported(drive, tmp_path):
    p = tmp_path / "badcmd.py"
    p.write_text("def setup(api):\n    api.register_command('badcmd', lambda ctx, a: 1 / 0)\n")
    d = drive("hello.img")
    d(f"plugin load {p}")
    d("badcmd")
    assert "plugin badcmd failed in command badcmd: ZeroDivisionError" in d.err.getvalue()
    assert "undefined command" in d.error("badcmd")
    d("stepi")


def test_several_plugins_hook_one_service_in_order_and_handles_remove(drive, tmp_path):
    calls: list[str] = []
    sys.modules["_order_log"] = type(sys)("_order_log")
    sys.modules["_order_log"].calls = calls  # type: ignore[attr-defined]
    for name in ("first", "second"):
        (tmp_path / f"{name}.py").write_text(
            "import _order_log\n"
            "def setup(api):\n"
            "    for phase in ('before', 'after'):\n"
            f"        api.hook_bios(phase, 0x13, 0x02, lambda c, p=phase: "
            f"_order_log.calls.append('{name}-' + p))\n")
    d = drive("hello.img")
    d(f"plugin load {tmp_path}/first.py")
    d(f"plugin load {tmp_path}/second.py")
    d("continue")
    assert calls[:4] == ["first-before", "second-before", "first-after", "second-after"]
    d("plugin unload first")
    assert len(d.session.machine.bios.hooks) == 2


def test_api_registrations_are_removable(drive, tmp_path):
    from debugger.checks import PROFILES
    from debugger.plugins import registry
    from debugger.ui import panes

    p = tmp_path / "many.py"
    p.write_text(
        "from debugger.machine.bus import Device\n"
        "class Echo(Device):\n"
        "    name = 'echo'\n"
        "    ports = (range(0x5F0, 0x5F1),)\n"
        "    def io_read(self, port, size):\n"
        "        return 0x42\n"
        "def setup(api):\n"
        "    from debugger.checks import PROFILES\n"
        "    vmx = PROFILES['vmx']\n"
        "    api.register_profile('strict', 'test profile', vmx.build, vmx.rules)\n"
        "    api.register_pane('hello', lambda view, width: 'hi', order=999)\n"
        "    api.register_exporter('null', lambda trace, path: None)\n"
        "    api.register_catch_kind('disk-any',\n"
        "                            lambda ev, args: ev.kind == 'disk' and ev.message)\n"
        "    api.add_device(Echo())\n"
        "    api.on_interrupt(lambda ev: None)\n"
        "    api.on_mode_change(lambda ev: None)\n")
    d = drive("hello.img")
    d(f"plugin load {p}")
    bus = d.session.machine.bus
    assert bus.read(0x5F0, 1) == 0x42
    assert "strict" in PROFILES and "hello" in registry.PANES and "null" in registry.EXPORTERS
    assert panes.get_pane("hello").fn(None, 80) == "hi"
    assert "strict" in d("check strict")
    out = d("pcatch disk-any")
    assert out.startswith("Catchpoint")
    ev_out = d("continue")
    assert "disk-any" in ev_out and "read" in ev_out           # stopped at the first disk read
    assert d.session.last_stop.kind == "disk-any"
    d("plugin unload many")
    assert bus.read(0x5F0, 1) == 0xFF                           # no device there any more
    assert "strict" not in PROFILES and "hello" not in registry.PANES
    assert "null" not in registry.EXPORTERS and "disk-any" not in registry.CATCH_KINDS
    assert d.session.machine.interrupt_listeners == [d.session.deliveries._on_interrupt]  # bt's


def test_cli_plugin_option_and_config_file(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), BOOTDBG_HISTORY=str(tmp_path / "h"))
    cfg = tmp_path / "config.toml"
    cfg.write_text('[plugins]\nload = ["disklog"]\n[plugins.options.disklog]\n'
                   f'csv = "{tmp_path / "d.csv"}"\n')
    env["BOOTDBG_CONFIG"] = str(cfg)
    argv = [sys.executable, "-m", "debugger", str(IMAGES / "hello.img"), "--batch",
            "--plugin", "bootkit", "-ex", "continue", "-ex", "bootkit"]
    # a --plugin that cannot be loaded is an input error: exit 2 before anything runs
    r = subprocess.run(argv + ["--plugin", "nosuchplugin"], capture_output=True, text=True,
                       env=env, timeout=120, cwd=tmp_path)
    assert r.returncode == 2 and "no plugin named 'nosuchplugin'" in r.stderr
    assert not r.stdout and not (tmp_path / "d.csv").exists()
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "disk [" in r.stdout and "hda" not in r.stdout
    assert (tmp_path / "d.csv").read_text().startswith("icount,drive,op,lba")


def _readme_example(readme: str) -> str:
    import re as _re

    text = (ROOT / readme).read_text()
    m = _re.search(r"#+ Writing a plugin\n.*?```python\n(.*?)```", text, _re.S)
    assert m, f"{readme}: no plugin example"
    return m.group(1)


@pytest.mark.parametrize("readme", ["README.md", "plugins/README.md"])
def test_readme_example_plugin_works(drive, tmp_path, readme):
    code = _readme_example(readme)
    assert len(code.strip().splitlines()) <= 20
    (tmp_path / "int10log.py").write_text(code)
    d = drive("pmode.img")
    d(f"plugin load {tmp_path}/int10log.py")
    out = d("continue")
    assert "int10log: real -> pm16 at icount" in out and "int10log: pm16 -> real" in out
    d("plugin unload int10log")       # commands are process-wide: one session at a time
    d2 = drive("hello.img")
    d2(f"plugin load {tmp_path}/int10log.py")
    d2("continue")
    assert "Hello from bootdbg" in d2("int10log")


def test_readme_example_command_line(tmp_path):
    """The README's command line, run as written (from a folder holding int10log.py)."""
    import re as _re
    import shlex

    (tmp_path / "int10log.py").write_text(_readme_example("README.md"))
    text = (ROOT / "README.md").read_text()
    line = _re.search(r"^bootdbg (images/\S+ .*--plugin \./int10log\.py.*)$", text, _re.M)
    assert line, "README: no command line for the example"
    argv = shlex.split(line.group(1))
    argv[0] = str(ROOT / argv[0])
    env = dict(os.environ, PYTHONPATH=str(ROOT), BOOTDBG_HISTORY=str(tmp_path / "h"),
               BOOTDBG_CONFIG=str(tmp_path / "none.toml"))
    r = subprocess.run([sys.executable, "-m", "debugger", *argv], capture_output=True, text=True,
                       env=env, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Hello from bootdbg" in r.stdout and "characters so far" in r.stdout


def test_a_plugin_loaded_before_the_command_registry_gets_its_command():
    # Through the Python API (or in a triage worker) nothing has imported debugger.commands
    # when a plugin registers its command: it arrives when the registry loads, and unloading
    # the plugin removes it either way.
    code = (
        "import sys\n"
        "from tests.conftest import demo_session\n"
        "from debugger.plugins import manager_for\n"
        "assert 'debugger.commands' not in sys.modules\n"
        "s = demo_session('hello'); mgr = manager_for(s); mgr.load('bootkit')\n"
        "from debugger import commands\n"
        "assert commands.find('bootkit').name == 'bootkit'\n"
        "mgr.unload('bootkit')\n"
        "assert 'bootkit' not in commands.names()\n"
        "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=str(ROOT), timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]
