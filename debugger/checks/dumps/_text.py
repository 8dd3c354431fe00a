"""Text clean-up shared by the dump parsers: mail quoting, console prefixes, wrapped lines.

`logical_lines(text)` yields `Line(no, text, raw)`: `no` is the 1-based number of the first
physical line, `text` the content with quoting (`> `, `>>> `), `(XEN) ` and an optional
`[timestamp] `, dmesg `[  12.345678] `, syslog `host kernel:` and `kvm_intel: `/`kvm: ` prefixes
removed, and lines a mail client wrapped joined back on.

Wrapped lines are found two ways.  In a prefixed log (`(XEN)`, `kvm_intel:`), a physical line
without the prefix between prefixed ones is a continuation.  Without prefixes, a line is a
continuation when it cannot start a dump line: it starts with a digit, `(`, or a lower-case
`word=` (the second half of `CR0: actual=..., gh_mask=...`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

__all__ = ["Line", "logical_lines", "clean"]

_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_PREFIXES = (
    re.compile(r"^\(XEN\)[ \t]?(?:\[[^\]]*\][ \t]?)?"),
    re.compile(r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ kernel:[ \t]?"),
    re.compile(r"^<\d>"),
    re.compile(r"^\[[ \d.]+\][ \t]?"),
    re.compile(r"^kvm(?:_intel)?:[ \t]?"),
)
_CONTINUATION = re.compile(r"^(?:[0-9(]|[a-z_]+=)")


@dataclass(frozen=True, slots=True)
class Line:
    no: int
    text: str
    raw: str


def clean(raw: str) -> tuple[str, bool]:
    """(content, had_console_prefix) of one physical line."""
    s = _QUOTE.sub("", raw.rstrip("\r\n").replace("\xa0", " ").replace("\t", " "))
    prefixed = False
    changed = True
    while changed:
        changed = False
        for p in _PREFIXES:
            m = p.match(s)
            if m and m.end():
                s = s[m.end():]
                prefixed = changed = True
    return s.rstrip(), prefixed


def logical_lines(text: str) -> Iterator[Line]:
    rows = [(i + 1, raw, *clean(raw)) for i, raw in enumerate(text.splitlines())]
    prefixed_log = sum(1 for r in rows if r[3]) * 2 > len([r for r in rows if r[2]])
    cur: list | None = None
    for no, raw, s, pre in rows:
        if not s.strip():
            if cur is not None:
                yield Line(cur[0], cur[1], cur[2])
                cur = None
            continue
        if cur is not None and (
                (prefixed_log and not pre and _CONTINUATION.match(s.lstrip()))
                or (prefixed_log and not pre and cur[3])
                or (not prefixed_log and _CONTINUATION.match(s))):
            cur[1] = cur[1] + " " + s.strip()
            cur[2] = cur[2] + "\n" + raw
            continue
        if cur is not None:
            yield Line(cur[0], cur[1], cur[2])
        cur = [no, s, raw, pre]
    if cur is not None:
        yield Line(cur[0], cur[1], cur[2])
