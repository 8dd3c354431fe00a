"""Scan code set 1 (what the 8042 delivers with translation on) to BIOS key words, US layout.

A key word is (scan << 8) | ASCII as stored in the BDA keyboard buffer.  Extended keys (those
prefixed E0h) are stored in the enhanced form INT 16h AH=10h returns: gray keys with ASCII E0h,
keypad Enter and / with scan E0h; AH=00h converts them back (see `to_standard`).
"""
from __future__ import annotations

__all__ = ["translate", "to_standard", "RSHIFT", "LSHIFT", "CTRL", "ALT", "SCROLL", "NUM",
           "CAPS", "INSERT"]

RSHIFT, LSHIFT, CTRL, ALT, SCROLL, NUM, CAPS, INSERT = (1 << i for i in range(8))

# scan -> (normal, shifted) characters for the keys that type something.
_CHARS: dict[int, tuple[str, str]] = {}
for _start, _low, _high in ((0x02, "1234567890-=", "!@#$%^&*()_+"),
                            (0x10, "qwertyuiop[]", "QWERTYUIOP{}"),
                            (0x1E, "asdfghjkl;'`", "ASDFGHJKL:\"~"),
                            (0x2B, "\\zxcvbnm,./", "|ZXCVBNM<>?")):
    for _i, (_a, _b) in enumerate(zip(_low, _high)):
        _CHARS[_start + _i] = (_a, _b)
_CHARS[0x39] = (" ", " ")

_CTRL_SPECIAL = {0x1A: 0x1B, 0x1B: 0x1D, 0x2B: 0x1C, 0x0C: 0x1F, 0x07: 0x1E, 0x1C: 0x0A,
                 0x0E: 0x7F, 0x39: 0x20}
_KEYPAD_DIGITS = {0x47: "7", 0x48: "8", 0x49: "9", 0x4B: "4", 0x4C: "5", 0x4D: "6",
                  0x4F: "1", 0x50: "2", 0x51: "3", 0x52: "0", 0x53: "."}
_ALT_DIGITS = {0x02 + i: 0x78 + i for i in range(12)}     # Alt-1 .. Alt-=  -> 78h..83h


def _fkey(scan: int, flags: int) -> int:
    if 0x3B <= scan <= 0x44:
        n = scan - 0x3B
        base = 0x68 if flags & ALT else 0x5E if flags & CTRL else \
            0x54 if flags & (LSHIFT | RSHIFT) else 0x3B
        return (base + n) << 8
    n = scan - 0x57                                        # F11, F12
    base = 0x8B if flags & ALT else 0x89 if flags & CTRL else \
        0x87 if flags & (LSHIFT | RSHIFT) else 0x85
    return (base + n) << 8


def translate(scan: int, flags: int, extended: bool) -> int | None:
    """The key word for a make code, given the shift flags (BDA 0x417); None if no key."""
    shift = bool(flags & (LSHIFT | RSHIFT))
    if extended:
        if scan == 0x1C:
            return 0xE00A if flags & CTRL else 0xE00D
        if scan == 0x35:
            return 0xE02F
        if scan in _KEYPAD_DIGITS:
            if flags & ALT:
                return (scan + 0x50) << 8
            return (scan << 8) | 0xE0
        return None
    if 0x3B <= scan <= 0x44 or scan in (0x57, 0x58):
        return _fkey(scan, flags)
    if scan in _KEYPAD_DIGITS:
        if flags & ALT:
            return None                                    # Alt+keypad digits compose; ignored
        if bool(flags & NUM) != shift:
            return (scan << 8) | ord(_KEYPAD_DIGITS[scan])
        return scan << 8
    if scan == 0x37:
        return 0x372A
    if scan == 0x4A:
        return 0x4A2D
    if scan == 0x4E:
        return 0x4E2B
    if scan == 0x01:
        return 0x011B
    if scan == 0x0E:
        return 0x0E7F if flags & CTRL else 0x0E08
    if scan == 0x0F:
        return 0x0F00 if shift else 0x0F09
    if scan == 0x1C:
        return 0x1C0A if flags & CTRL else 0x1C0D
    if scan not in _CHARS:
        return None
    low, high = _CHARS[scan]
    if flags & ALT:
        if scan in _ALT_DIGITS:
            return _ALT_DIGITS[scan] << 8
        return scan << 8 if low.isalpha() else None
    if flags & CTRL:
        if low.isalpha():
            return (scan << 8) | (ord(low) & 0x1F)
        if scan == 0x03:
            return 0x0300
        return (scan << 8) | _CTRL_SPECIAL[scan] if scan in _CTRL_SPECIAL else None
    ch = high if shift else low
    if low.isalpha() and flags & CAPS:
        ch = ch.swapcase()
    return (scan << 8) | ord(ch)


def to_standard(word: int) -> int | None:
    """The word INT 16h AH=00h/01h returns for an enhanced key word (None: not reported)."""
    scan, ascii_ = word >> 8, word & 0xFF
    if scan == 0xE0:
        return (0x35 << 8 | ascii_) if ascii_ == 0x2F else (0x1C << 8 | ascii_)
    if scan >= 0x85:
        return None                                        # F11/F12 exist only for AH=10h
    if ascii_ == 0xE0 and scan:
        return scan << 8
    return word
