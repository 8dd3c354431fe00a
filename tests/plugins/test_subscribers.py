"""Plugin subscribers and device models see what the guest really does, through `api` only."""
from __future__ import annotations

import re

from tests.plugins.conftest import IMAGES

WATCHER = '''
seen = []
def setup(api):
    api.on_interrupt(lambda ev: seen.append(ev))
'''


def test_on_interrupt_sees_every_exception_the_image_expects(drive, tmp_path):
    """exceptions.img: each fault and trap its handlers check (vector, error code, pushed CS:EIP)
    reaches an on_interrupt subscriber once, in order."""
    p = tmp_path / "intwatch.py"
    p.write_text(WATCHER)
    d = drive("exceptions.img")
    d(f"plugin load {p}")
    d("continue")
    assert "exceptions as expected: 16/16" in d.session.serial.decode()
    mod = d.session.plugin_manager.plugins["intwatch"].module
    want = []
    for line in (IMAGES / "exceptions.expect").read_text().splitlines():
        m = re.match(r"\w+ #\w+ vec=(\w\w)(?: err=(\w+))? at (\w{4}):(\w{8})", line)
        if m:
            want.append((int(m[1], 16), None if m[2] is None else int(m[2], 16),
                         int(m[3], 16), int(m[4], 16)))
    assert len(want) == 16
    got = [(e.vector, e.error_code, e.cs, e.ip) for e in mod.seen if e.kind != "irq"]
    it = iter(got)
    for w in want:          # in order; the image's stubs push 0 for vectors without a code
        assert any(g[0] == w[0] and g[2:] == w[2:] and (w[1] is None or (g[1] or 0) == w[1])
                   for g in it), (w, got)
    assert len(got) == len(set((e.vector, e.icount) for e in mod.seen if e.kind != "irq"))
    d("plugin unload intwatch")
    assert d.session.machine.interrupt_listeners == [d.session.deliveries._on_interrupt]  # bt's


def test_software_interrupts_match_a_single_step_walk(drive, tmp_path):
    """hello.img: the INT instructions a single-step walk executes are the ones reported."""
    from debugger.engine.session import Session

    p = tmp_path / "intwatch.py"
    p.write_text(WATCHER)
    d = drive("hello.img")
    d(f"plugin load {p}")
    d("continue")
    mod = d.session.plugin_manager.plugins["intwatch"].module
    got = [(e.vector, e.cs, e.ip) for e in mod.seen if e.kind == "int"]

    s = Session(IMAGES / "hello.img")
    walk = []
    while True:
        st = s.state()
        ins = s.disassemble(st.pc, 1)[0]
        ev = s.step()
        if ins.mnemonic == "int" and 0 <= st.cs.base <= 0xFFFFF:
            walk.append((int(ins.op_str, 0), st.cs.selector, st.rip + ins.size))
        if ev.final:
            break
    assert got and got == walk


def test_device_model_takes_a_port_and_gives_it_back(drive, tmp_path):
    p = tmp_path / "fakecom.py"
    p.write_text(
        "from debugger.machine.bus import Device\n"
        "class Scratch(Device):\n"
        "    name = 'fake-scratch'\n"
        "    ports = (range(0x3FF, 0x400),)\n"
        "    value = 0x5A\n"
        "    def io_read(self, port, size):\n"
        "        return self.value\n"
        "    def io_write(self, port, size, value):\n"
        "        self.value = value ^ 0xFF\n"
        "def setup(api):\n"
        "    api.add_device(Scratch())\n")
    d = drive("hello.img")
    bus = d.session.machine.bus
    uart = bus.device_at(0x3FF)
    assert uart is not None and uart.name != "fake-scratch"
    d(f"plugin load {p}")
    assert bus.device_at(0x3FF).name == "fake-scratch" and bus.device_at(0x3F8) is uart
    bus.write(0x3FF, 1, 0x0F)
    assert bus.read(0x3FF, 1) == 0xF0
    d("plugin unload fakecom")
    assert bus.device_at(0x3FF) is uart                    # the UART's scratch register again
    bus.write(0x3FF, 1, 0x0F)
    assert bus.read(0x3FF, 1) == 0x0F
    d("continue")
    assert "DONE" in d.session.serial.decode()


def test_instead_hook_replaces_a_bios_service_until_unloaded(drive, tmp_path):
    """An `instead` hook on INT 12h answers in place of the BIOS; before/after hooks of the
    same service still run around it; unloading removes all three."""
    p = tmp_path / "smallmem.py"
    p.write_text(
        "order = []\n"
        "def setup(api):\n"
        "    def instead(call):\n"
        "        order.append('instead')\n"
        "        call.ax = 512\n"
        "    api.hook_bios('instead', 0x12, None, instead)\n"
        "    api.hook_bios('before', 0x12, None, lambda call: order.append('before'))\n"
        "    api.hook_bios('after', 0x12, None, lambda call: order.append(f'after {call.ax}'))\n")
    d = drive("hello.img")
    d(f"plugin load {p}")
    d("continue")
    assert "conventional memory 512 KiB" in d.session.serial.decode()
    mod = d.session.plugin_manager.plugins["smallmem"].module
    assert mod.order == ["before", "instead", "after 512"]
    d("plugin unload smallmem")
    assert d.session.machine.bios.hooks == []
    d2 = drive("hello.img")                     # without the plugin: the BIOS's own answer
    d2("continue")
    assert "conventional memory 639 KiB" in d2.session.serial.decode()


def test_plugin_pane_in_the_context(drive, tmp_path):
    p = tmp_path / "ippane.py"
    p.write_text("def setup(api):\n"
                 "    api.register_pane('ippane', lambda view, width: f'IP is "
                 "{view.state.rip:04x} at icount {view.icount}', title='where')\n")
    d = drive("hello.img")
    d(f"plugin load {p}")
    d("stepi 2")
    out = d("context")
    st = d.session.state()
    lines = out.rstrip().splitlines()
    assert lines[-1] == f"IP is {st.rip:04x} at icount 2" and lines[-2].startswith("where ")
    d("plugin unload ippane")
    assert "IP is" not in d("context")
