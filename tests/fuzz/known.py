"""Corpus cases that still fail, each in an area another helper owns: replayed as
xfail(strict=True) so the fix flips them to a pass the lead sees (then delete the entry)."""
from __future__ import annotations

KNOWN: dict[str, str] = {
    # "KIND/FILE": "owner: what is wrong (issue 14 item)",
    "dumps/exception-dd57eff9cc05":
        "tracechk: a QEMU dump with DR4=/DR5= is a TypeError in parse_qemu (issue 14 item 3)",
    "scripts/output-7e675a5061c3":
        "issue 14 item 6 (cli?): `until *0xffffffffffffffff` is 'internal error: UcError'",
    "keys/exception-f4d471a71c50":
        "cli?: `bootdbg run --keys '{nokey}'` is a ValueError traceback (issue 14 item 5)",
    "keys/exception-cb78bf30073d":
        "cli?: `bootdbg run --keys '{pause...'` is a ValueError traceback (issue 14 item 5)",
    "qemulog/exception-7a160cf25426":
        "tracechk: QemuLogError escapes `trace diff` as a traceback (issue 14 item 4)",
    "qemulog/exception-7f11b42757f9":
        "tracechk: QemuLogError escapes `trace diff` as a traceback (issue 14 item 4)",
    "qemulog/exception-d5f53e1f51c4":
        "tracechk: QemuLogError escapes `trace diff` as a traceback (issue 14 item 4)",
    "scripts/output-b34090abdd3e":
        "cli? (commands/points.py): `condition , 010` is 'internal error: IndexError'",
    "argv/exception-08f610b6233e":
        "cli?: `bootdbg record --keys ...` with an untypeable key is a ValueError traceback "
        "(issue 14 item 5)",
    "argv/exception-4b4536ee6c0b":
        "cli?: `bootdbg record --keys ...` with an untypeable key is a ValueError traceback "
        "(issue 14 item 5)",
    "images/hang-54b211adc41e":
        "machine/speed: HLT with IF=1 in a loop runs ~260 instructions/s (each wake-up through "
        "the PIT/IRQ0 path); cont(max_insns=4000) takes ~15 s (Ctrl-C does stop it)",
}
