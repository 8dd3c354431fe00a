"""The GDB remote serial protocol: `GdbServer` lets gdb, IDA or Ghidra drive a `Session`.

Addresses are linear: the PC gdb sees (`eip`/`rip`) is CS.base + EIP, memory packets read and
write linear addresses, and Z packets set breakpoints and watchpoints at linear addresses, so
`x/i $pc`, `break *0x7c10` and stepping are right in real mode.  The target description matches
the mode at connection time (i8086 for 16-bit code, i386, x86-64) and carries an extra feature,
`org.bootdbg.x86.segments`, with the hidden segment bases, limits and access rights, the
descriptor-table registers, control registers, EFER and the real EIP (`pc_offset`).
"""
from __future__ import annotations

__all__ = ["GdbServer", "serve", "parse_listen"]


def __getattr__(name: str) -> object:
    if name in __all__:
        from debugger.gdb import server

        return getattr(server, name)
    raise AttributeError(name)
