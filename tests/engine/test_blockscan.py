"""Block classification (which blocks are stepped) and the count of instructions before the first
that can change watched state inside a block (run fast, the rest stepped)."""
from __future__ import annotations

from debugger.engine.blockscan import CATEGORIES, classify, leading_safe

# mov ax, 1 / add bx, ax / mov ds, ax / lgdt [0x800] / nop
CODE = bytes.fromhex("b80100" "01c3" "8ed8" "0f01160008" "90")
AT = 0x7C00


def read(a: int, n: int) -> bytes:
    return CODE[a - AT:a - AT + n]


def test_classify_names_every_category_in_the_block():
    assert classify(read, AT, len(CODE), 16) == {"sreg", "dtr"}
    assert classify(read, AT, 5, 16) == frozenset()
    assert classify(lambda a, n: bytes.fromhex("0f0b"), 0, 2, 16) == frozenset()   # ud2
    assert classify(lambda a, n: 1 / 0, 0, 2, 16) == frozenset(CATEGORIES)      # unreadable


def test_leading_safe_counts_up_to_the_first_instruction_of_the_categories():
    assert leading_safe(read, AT, len(CODE), 16, frozenset({"sreg"})) == 2
    assert leading_safe(read, AT, len(CODE), 16, frozenset({"dtr"})) == 3
    assert leading_safe(read, AT, len(CODE), 16, frozenset(CATEGORIES)) == 2
    assert leading_safe(read, AT + 5, len(CODE) - 5, 16, frozenset({"sreg"})) == 0  # first
    # none of them in the block, or nothing to read: nothing is run fast
    assert leading_safe(read, AT, len(CODE), 16, frozenset({"msr"})) == 0
    assert leading_safe(lambda a, n: 1 / 0, AT, 4, 16, frozenset({"sreg"})) == 0
