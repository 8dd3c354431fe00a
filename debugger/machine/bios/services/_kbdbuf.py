"""The BDA keyboard ring buffer: head 0x41A, tail 0x41C, bounds at 0x480/0x482 (0040h offsets)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.machine.bios import bda

if TYPE_CHECKING:
    from debugger.machine.memory import Memory

__all__ = ["push", "peek", "pop", "clear"]


def _bounds(mem: "Memory") -> tuple[int, int]:
    start = mem.read_u(bda.KBD_BUF_START, 2)
    end = mem.read_u(bda.KBD_BUF_END, 2)
    if not (0x1E <= start < end <= 0x100) or (end - start) % 2:
        start, end = 0x1E, 0x3E                 # the guest clobbered the bounds: use defaults
    return start, end


def push(mem: "Memory", word: int) -> bool:
    """Append a key word; False if the buffer is full."""
    start, end = _bounds(mem)
    tail = mem.read_u(bda.KBD_TAIL, 2)
    nxt = tail + 2
    if nxt >= end:
        nxt = start
    if nxt == mem.read_u(bda.KBD_HEAD, 2):
        return False
    mem.write_u(bda.BDA + tail, 2, word)
    mem.write_u(bda.KBD_TAIL, 2, nxt)
    return True


def peek(mem: "Memory") -> int | None:
    head = mem.read_u(bda.KBD_HEAD, 2)
    if head == mem.read_u(bda.KBD_TAIL, 2):
        return None
    return mem.read_u(bda.BDA + head, 2)


def pop(mem: "Memory") -> int | None:
    word = peek(mem)
    if word is None:
        return None
    start, end = _bounds(mem)
    head = mem.read_u(bda.KBD_HEAD, 2) + 2
    mem.write_u(bda.KBD_HEAD, 2, start if head >= end else head)
    return word


def clear(mem: "Memory") -> None:
    mem.write_u(bda.KBD_HEAD, 2, mem.read_u(bda.KBD_TAIL, 2))
