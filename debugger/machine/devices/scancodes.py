"""Text to PC keyboard scan codes: set 1 (what the 8042 delivers with translation on), US layout.

`text_to_scancodes` turns text into make/break sequences.  Printable ASCII types its key, with
left Shift around shifted characters; "\\r" and "\\n" are Enter, "\\t" Tab, "\\b" Backspace,
"\\x1b" Esc, and the other control characters 01h-1Ah are Ctrl+letter.  Named keys are written
in braces, with optional modifiers: "{enter}", "{f1}", "{up}", "{ctrl+alt+delete}",
"{shift+tab}"; "{{" is a literal "{".  `set1_to_set2` converts a set-1 byte stream to what the
keyboard sends in set 2 (used when the 8042's translation is off).
"""
from __future__ import annotations

__all__ = ["KEYS", "text_to_scancodes", "key_names", "Set2Converter"]

# name -> (extended, set-1 make code, set-2 make code)
KEYS: dict[str, tuple[bool, int, int]] = {}
_CHAR_KEYS: dict[str, tuple[str, bool]] = {}        # character -> (key name, needs shift)

_ROWS = (
    ("1234567890-=", "!@#$%^&*()_+", 0x02, (0x16, 0x1E, 0x26, 0x25, 0x2E, 0x36, 0x3D, 0x3E,
                                             0x46, 0x45, 0x4E, 0x55)),
    ("qwertyuiop[]", "QWERTYUIOP{}", 0x10, (0x15, 0x1D, 0x24, 0x2D, 0x2C, 0x35, 0x3C, 0x43,
                                             0x44, 0x4D, 0x54, 0x5B)),
    ("asdfghjkl;'`", "ASDFGHJKL:\"~", 0x1E, (0x1C, 0x1B, 0x23, 0x2B, 0x34, 0x33, 0x3B, 0x42,
                                              0x4B, 0x4C, 0x52, 0x0E)),
    ("\\zxcvbnm,./", "|ZXCVBNM<>?", 0x2B, (0x5D, 0x1A, 0x22, 0x21, 0x2A, 0x32, 0x31, 0x3A,
                                            0x41, 0x49, 0x4A)),
)
for _low, _high, _first, _set2 in _ROWS:
    for _i, (_a, _b) in enumerate(zip(_low, _high)):
        KEYS[_a] = (False, _first + _i, _set2[_i])
        _CHAR_KEYS[_a] = (_a, False)
        _CHAR_KEYS[_b] = (_a, True)

_NAMED = {
    "space": (False, 0x39, 0x29), "esc": (False, 0x01, 0x76), "backspace": (False, 0x0E, 0x66),
    "tab": (False, 0x0F, 0x0D), "enter": (False, 0x1C, 0x5A), "ctrl": (False, 0x1D, 0x14),
    "shift": (False, 0x2A, 0x12), "rshift": (False, 0x36, 0x59), "alt": (False, 0x38, 0x11),
    "capslock": (False, 0x3A, 0x58), "numlock": (False, 0x45, 0x77),
    "scrolllock": (False, 0x46, 0x7E), "f11": (False, 0x57, 0x78), "f12": (False, 0x58, 0x07),
    "up": (True, 0x48, 0x75), "down": (True, 0x50, 0x72), "left": (True, 0x4B, 0x6B),
    "right": (True, 0x4D, 0x74), "home": (True, 0x47, 0x6C), "end": (True, 0x4F, 0x69),
    "pageup": (True, 0x49, 0x7D), "pagedown": (True, 0x51, 0x7A), "insert": (True, 0x52, 0x70),
    "delete": (True, 0x53, 0x71), "rctrl": (True, 0x1D, 0x14), "ralt": (True, 0x38, 0x11),
    "kpenter": (True, 0x1C, 0x5A),
}
_F_SET2 = (0x05, 0x06, 0x04, 0x0C, 0x03, 0x0B, 0x83, 0x0A, 0x01, 0x09)
for _i, _code in enumerate(_F_SET2):
    _NAMED[f"f{_i + 1}"] = (False, 0x3B + _i, _code)
KEYS.update(_NAMED)
_CHAR_KEYS[" "] = ("space", False)
_ALIASES = {"escape": "esc", "return": "enter", "bs": "backspace", "del": "delete",
            "ins": "insert", "pgup": "pageup", "pgdn": "pagedown", "control": "ctrl",
            "lctrl": "ctrl", "lshift": "shift", "lalt": "alt", "altgr": "ralt"}
_CONTROL = {"\r": "enter", "\n": "enter", "\t": "tab", "\b": "backspace", "\x1b": "esc"}
_MODIFIERS = ("ctrl", "shift", "alt", "rctrl", "ralt", "rshift")


def key_names() -> list[str]:
    return sorted(_NAMED) + sorted(_ALIASES)


def _stroke(name: str, mods: tuple[str, ...] = ()) -> bytes:
    out = bytearray()
    for m in mods:
        out += _press(m, brk=False)
    out += _press(name, brk=False) + _press(name, brk=True)
    for m in reversed(mods):
        out += _press(m, brk=True)
    return bytes(out)


def _press(name: str, brk: bool) -> bytes:
    ext, code, _ = KEYS[name]
    code |= 0x80 if brk else 0
    return bytes([0xE0, code]) if ext else bytes([code])


def _named(spec: str) -> bytes:
    parts = [p.strip().lower() for p in spec.split("+")]
    parts = [_ALIASES.get(p, p) for p in parts]
    *mods, key = parts
    for m in mods:
        if m not in _MODIFIERS:
            raise ValueError(f"unknown modifier {m!r} in key {{{spec}}}")
    if key in _CHAR_KEYS and key not in KEYS:            # e.g. {ctrl+A}
        key = _CHAR_KEYS[key][0]
    if key not in KEYS:
        raise ValueError(f"unknown key name {{{spec}}} (known: {', '.join(key_names())})")
    return _stroke(key, tuple(mods))


def text_to_scancodes(text: str) -> bytes:
    """Set-1 make/break codes that type `text` (see the module docstring for the syntax)."""
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "{":
            if text.startswith("{{", i):
                out += _stroke("[", ("shift",))
                i += 2
                continue
            end = text.find("}", i)
            if end < 0:
                raise ValueError(f"unterminated key name at {text[i:i + 20]!r} (use {{{{ for {{)")
            out += _named(text[i + 1:end])
            i = end + 1
            continue
        if ch in _CONTROL:
            out += _stroke(_CONTROL[ch])
        elif ch in _CHAR_KEYS:
            name, shift = _CHAR_KEYS[ch]
            out += _stroke(name, ("shift",) if shift else ())
        elif "\x01" <= ch <= "\x1a":
            out += _stroke(chr(ord(ch) + 0x60), ("ctrl",))
        else:
            raise ValueError(f"cannot type {ch!r} on a US keyboard")
        i += 1
    return bytes(out)


_SET1_TO_SET2 = {(ext, s1): s2 for ext, s1, s2 in KEYS.values()}


class Set2Converter:
    """Turns a set-1 byte stream into set 2, one byte at a time (E0 prefixes kept)."""

    def __init__(self) -> None:
        self.extended = False

    def convert(self, byte: int) -> bytes:
        if byte in (0xE0, 0xE1):
            self.extended = byte == 0xE0
            return bytes([byte])
        ext, self.extended = self.extended, False
        code = _SET1_TO_SET2.get((ext, byte & 0x7F))
        if code is None:
            return bytes([byte])
        return bytes([0xF0, code]) if byte & 0x80 else bytes([code])
