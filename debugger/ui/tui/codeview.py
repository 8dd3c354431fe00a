"""The code pane's listing: the real instruction at CS:EIP and, before it, real instruction
boundaries wherever they are known.

x86 cannot be disassembled backwards: the bytes before CS:EIP decode differently from each start
offset.  Two sources make the lines before the current one trustworthy:

- *known starts*: every CS:EIP the TUI has stopped at (and each stop's executed instruction) is
  an instruction boundary, remembered with the bytes it had (self-modifying or copied code:
  a start whose bytes changed is forgotten).  A line decoded forward from a known start that
  lands exactly on the target is a real boundary as far as the code flows there;
- where nothing is known, every start offset in the window is decoded and the chain that lands
  exactly on the target *and* that most start offsets fall into is kept (x86 decoding
  re-synchronises, so the real instruction stream is where most of them meet).  Those lines
  are marked as guesses in the pane.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable

from debugger.disasm import Insn, decode_one

__all__ = ["KnownStarts", "listing_before"]

MAX_INSN = 15


class KnownStarts:
    """Instruction starts seen executed: (bits, linear) -> the instruction's bytes."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._starts: OrderedDict[tuple[int, int], bytes] = OrderedDict()

    def add(self, linear: int, bits: int, insn_bytes: bytes) -> None:
        if not insn_bytes:
            return
        key = (bits, linear)
        self._starts[key] = bytes(insn_bytes)
        self._starts.move_to_end(key)
        if len(self._starts) > self.capacity:
            self._starts.popitem(last=False)

    def is_start(self, linear: int, bits: int, code_at: bytes) -> bool:
        """A known start whose bytes are still the same (`code_at`: memory from `linear`)."""
        b = self._starts.get((bits, linear))
        return b is not None and code_at[:len(b)] == b

    def __len__(self) -> int:
        return len(self._starts)


def listing_before(read: Callable[[int, int], bytes], target: int, bits: int, count: int,
                   known: KnownStarts | None = None, floor: int = 0
                   ) -> tuple[list[Insn], set[int]]:
    """Up to `count` instructions ending exactly at `target`, and the addresses among them
    that are real boundaries (on a chain from a known start).  `floor`: nothing is decoded
    below it (the code segment's base)."""
    if count <= 0 or target <= floor:
        return [], set()
    lo = max(floor, target - min(count * 8 + 2 * MAX_INSN, 192))
    code = b""
    while lo < target:
        try:
            code = read(lo, target - lo)
            break
        except Exception:              # unreadable (unmapped) further back: a shorter window
            lo += min(16, target - lo)
    if not code:
        return [], set()
    nxt: dict[int, Insn] = {}
    for o in range(lo, target):
        ins = decode_one(code[o - lo:o - lo + MAX_INSN], o, bits)
        if ins is not None and ins.mnemonic != "(bad)" and o + ins.size <= target:
            nxt[o] = ins
    reach: dict[int, bool] = {}
    for o in range(target - 1, lo - 1, -1):
        ins = nxt.get(o)
        if ins is not None:
            end = o + ins.size
            reach[o] = end == target or reach.get(end, False)
    on_path = [o for o in range(lo, target) if reach.get(o)]
    votes: dict[int, int] = {}
    anchored: set[int] = set()
    for o in on_path:                  # increasing: predecessors come first
        votes[o] = votes.get(o, 0) + 1
        if known is not None and known.is_start(o, bits, code[o - lo:]):
            anchored.add(o)
        end = o + nxt[o].size
        votes[end] = votes.get(end, 0) + votes[o]
        if o in anchored:
            anchored.add(end)
    preds: dict[int, list[int]] = {}
    for o in on_path:
        preds.setdefault(o + nxt[o].size, []).append(o)
    out: list[Insn] = []
    cur = target
    while len(out) < count and preds.get(cur):
        cands = preds[cur]
        best = max(cands, key=lambda p: (p in anchored, votes.get(p, 0), -p))
        out.append(nxt[best])
        cur = best
    out.reverse()
    return out, {i.address for i in out if i.address in anchored}
