"""info *, sreg/regs/creg, x/xp/disassemble, print/set/printf/echo/output/show, check/profile,
screen/serial/help/context/quit."""
from __future__ import annotations

import pytest

from debugger.script.interpreter import SessionOver
from tests.cli.guests import UNREAL, VM86


def test_x_formats_and_continuation(drive):
    d = drive()
    assert d("x/8xb 0x7c00").strip() == \
        "0x00007c00: 0x31 0xc0 0x8e 0xd8 0x8e 0xd0 0xbc 0x00"
    assert d("x/2xh 0:7c00").strip() == "0x00007c00: 0xc031 0xd88e"
    assert d("x").strip() == "0x00007c04: 0xd08e 0x00bc"      # continues after the last one
    assert d("x/1dw 0x7c00").strip().endswith(str(0xD88EC031 - (1 << 32)))
    assert d("x/s 0x7c2e").strip() == '0x00007c2e: "Hi"'
    assert d("x/2c 0x7c2e").strip() == "0x00007c2e: 72 'H' 105 'i'"
    out = d("x/3i $pc")
    assert "=> 0000:7c00" in out and "xor ax, ax" in out and "mov ss, ax" in out
    assert "0x00007c00: 0x31" in d("xp/1xb 0x7c00")
    assert "unknown format letter" in d.error("x/4q 0")
    assert "x needs an address" in d.error("x/4xb")


def test_enter_continues_x(drive):
    d = drive()
    d("x/2xb 0x7c00")
    d.interp.repeat_last()
    assert d.ctx.last_x.address == 0x7C04


def test_disassemble_forms(drive):
    d = drive()
    out = d("disassemble")
    assert out.count("\n") >= 9 and "=> 0000:7c00" in out
    out = d("u /2 0:7c22")
    assert "lodsb" in out and "test al, al" in out and len(out.strip().splitlines()) == 2
    out = d("disassemble 0x7c22,+4")
    assert "lodsb" in out and "je 0x7c2d" in out
    d("b *0x7c0c")
    assert "*   0000:7c0c" in d("disas 0x7c09 2")
    assert "add" in d("disassemble -32 0x7c00 1") or "xor eax, eax" in d(
        "disassemble -32 0x7c00 1")


def test_print_and_set(drive):
    d = drive()
    d("si 5")
    assert d("p/x si").strip() == "$1 = 0x7c2e"
    assert d("p ds.base").strip() == "$2 = 0"
    assert d("p byte[ds:si]").strip() == "$3 = 72 (0x48)"
    assert d("p $1 + 1").strip() == "$4 = 31791 (0x7c2f)"
    d("set eax = 5")
    assert d.session.state().rax == 5
    d("set byte[0x600] = 0x99")
    assert d.session.read_memory(0x600, 1) == b"\x99"
    d("set word[0:602] = 0x1234")
    assert d.session.read_memory(0x602, 2) == b"\x34\x12"
    d("set ds.base = 0x1000")
    assert d.session.state().ds.base == 0x1000
    d("set $i = 7")
    assert d("p $i * 2").strip() == "$5 = 14 (0xe)"


def test_set_dollar_register_sets_the_register(drive):
    """gdb: `$eax` is the register, so `set $eax = 5` and `p $ds.base = 0x100` assign it (they must
    not create a variable that `p $eax` never shows); `$cr3`, `$pc`, `$eflags.if` likewise."""
    d = drive()
    d("si 5")
    d("set $eax = 5")
    assert d.session.state().rax == 5
    assert d("p $eax").strip() == "$1 = 5"
    assert "eax" not in d.session.variables
    d("set $ds.base = 0x1000")
    assert d.session.state().ds.base == 0x1000
    assert d("p $ebx = 0x22").strip() == "$2 = 34 (0x22)"
    assert d.session.state().rbx == 0x22
    d("set $cr3 = 0x3000")
    assert d.session.state().cr3 == 0x3000
    d("set $pc = 0x7c05")
    assert d.session.state().rip == 0x7c05
    d("set $mine = 3")
    assert d.session.variables["mine"] == 3
    assert "IP would be 0x100000" in d.error("set $pc = 0x100000")
    assert d.error("set nosuch = 1").endswith("'nosuch'")     # the message keeps its quotes
    assert "unknown register" in d.error("set nosuch = 1") or "cannot set" in d.error(
        "set nosuch = 1")
    assert d.error("p 1 +")
    assert "= what" in d.error("set eax =")


def test_printf_echo_output(drive):
    d = drive()
    assert d('printf "%04x|%d|%c|%s|%%\\n", 0x7c, 10, 65, 0x7c2e') == "007c|10|A|Hi|%\n"
    assert d("echo a\\tb\\n") == "a\tb\n"
    assert d("output 1+2") == "3"
    assert "not enough arguments" in d.error('printf "%d %d", 1')
    assert "more arguments" in d.error('printf "%d", 1, 2')
    assert "quoted format" in d.error("printf %d")


def test_settings(drive):
    d = drive()
    assert "code_after = 3" in d("set code_after 3")
    assert "code_after       3" in d("show code_after")
    assert "profile" in d("show")
    assert "no setting" in d.error("set nothing 1")


def test_info_registers_sreg_cr_mode(drive):
    d = drive(UNREAL)
    d("until *0x7c1e")
    out = d("info registers")
    assert "EAX" in out and "EFLAGS" in out and "CR0" in out
    assert "0x" in d("info registers eax ds.limit")
    out = d("sreg")
    ds = next(ln for ln in out.splitlines() if ln.startswith("DS "))
    assert "ffffffff" in ds
    assert d("info sreg") == out
    assert "CR0  00000011 [PE ET]" in d("creg")
    out = d("info mode")
    assert "mode pm16" in out and "CR0.PE / PG" in out
    assert d("regs") == d("info registers")


def test_info_tables(drive):
    d = drive(VM86)
    d("catch vm86")
    d("c")
    out = d("info gdt")
    assert "GDT base" in out and "code XR" in out and "tss busy" in out
    assert "data RW" in d("info gdt 2")
    out = d("info tss")
    assert "32-bit TSS" in out and "SS0:ESP0 = 0010:7000" in out
    out = d("info idt")
    assert "IDT base" in out
    out = d("info ivt 0x13")
    assert "13" in out and "disk" in out
    assert "no LDT" in d("info ldt")


def test_info_ivt_in_real_mode(drive):
    d = drive()
    out = d("info idt 0x10 0x13")
    assert "IVT" in out and "f000:" in out and "BIOS" in out and "video" in out


def test_info_machine(drive):
    d = drive()
    d("c")
    assert "BIOS calls serviced" in d("info bios")
    out = d("info e820")
    assert "usable" in out and "reserved" in out
    assert d("info events") .strip()
    assert "A20" in d("info devices")
    assert "undefined info command" in d.error("info nothing")
    assert "ambiguous" in d.error("info i")


def test_check_and_profile(drive):
    d = drive(UNREAL)
    out = d("check")
    assert "profile vmx" in out or "vmx" in out
    assert "kvm" in d("profile kvm")
    d("until *0x7c23")
    out = d("check")
    assert "KVM.RM.DS" in out and "KVM.RM.ES" in out
    out = d("check vmx-ug")
    assert "vmx-ug" in out
    assert "unknown profile" in d.error("check nosuch")
    assert "unknown profile" in d.error("profile nosuch")
    assert "Checker profile: kvm" in d("profile")


def test_screen_serial_help_context_quit(drive):
    d = drive()
    d("c")
    assert d("serial").strip() == "Hi"
    out = d("screen")
    assert "screen" in out and out.count("\n") >= 26
    out = d("help")
    assert "stepi (si, step, s)" in out and "Breakpoints" in out
    assert "x/NFU ADDRESS" in d("help x")
    assert "info gdt" in d("help info")
    assert "registers" in d("context")
    assert "takes no arguments" in d.error("quit now")
    with pytest.raises(SessionOver):
        d("quit")
    assert d.ctx.quit_requested


def test_define_document_and_user_help(drive):
    d = drive()
    d.lines("define twice", "si", "si", "end", "document twice", "Step two.", "end")
    d("twice")
    assert d.session.icount == 2
    assert "Step two." in d("help twice")
    d("define stepi")
    assert "cannot redefine the built-in command 'stepi'" in d.error("end")


def test_unique_prefixes_and_ambiguity(drive):
    d = drive()
    assert "Breakpoint 1" in d("brea *0x7c12")
    assert "ambiguous command" in d.error("d" + "i")
    assert 'undefined command: "zzz"' in d.error("zzz")


def test_set_says_when_the_cpu_holds_another_value(drive):
    """A value the CPU cannot hold (an AR with unusable=1 and P=1: the segment cache has no
    separate unusable bit) is not silently replaced: `set` says what the register holds now."""
    d = drive()
    out = d("set ds.ar = 0x1f0ff")
    held = d.session.state().ds.ar
    assert held != 0x1f0ff
    assert f"ds.ar is {held:#x}" in out and "0x1f0ff" in out
    assert d("set ds.ar = 0x93").strip() == ""         # a value the cache holds: silent
    assert d.session.state().ds.ar == 0x93
    assert d("set eax = 0x12345678").strip() == ""
    assert d("p byte[0x600] = 0x1ff").strip().endswith("= 255 (0xff)")  # gdb: the value held
