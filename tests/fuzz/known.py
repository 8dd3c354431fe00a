"""Corpus cases that still fail, each in an area another helper owns: replayed as
xfail(strict=True) so the fix flips them to a pass the lead sees (then delete the entry)."""
from __future__ import annotations

KNOWN: dict[str, str] = {
    # "KIND/FILE": "owner: what is wrong (issue 14 item)",
    "images/hang-54b211adc41e":
        "machine/speed: HLT with IF=1 in a loop runs ~260 instructions/s (each wake-up through "
        "the PIT/IRQ0 path); cont(max_insns=4000) takes ~15 s (Ctrl-C does stop it)",
    "images/hang-aea892f2459f":
        "machine/speed: the same HLT-with-IF=1 wake-up path (the guest code starts with HLT at "
        "0000:7C00); over 10 s of CPU for 4000 instructions",
}
