"""Import CPU states from text dumps: Xen and KVM VMCS dumps, QEMU register dumps.

`parse_dump(text)` finds the dump in surrounding log noise, tolerates mail quoting, console
prefixes and wrapped lines (see `_text`), detects the format and returns a `ParsedDump`:
`.format` ("xen-3.4", "xen-4.6", "kvm", "kvm-legacy", "qemu"), `.cpu` (a `CpuState`) and, for
VMCS dumps, `.guest` (a `GuestState` with the dump's own controls).  Anything else raises
`DumpError(msg, line_no, line)`.
"""
from __future__ import annotations

from debugger.checks.dumps._text import logical_lines
from debugger.checks.dumps.errors import DumpError, ParsedDump
from debugger.checks.dumps.qemu import RECORD_START, parse_qemu
from debugger.checks.dumps.vmcs import GUEST_MARK, parse_vmcs

__all__ = ["parse_dump", "ParsedDump", "DumpError", "FORMATS"]

FORMATS = ("xen-3.4", "xen-4.6", "kvm", "kvm-legacy", "qemu")


def _binary_line(text: str) -> int:
    """1-based number of the first line holding binary data, or 0."""
    for i, line in enumerate(text.splitlines() or [text]):
        bad = sum(1 for ch in line if (ord(ch) < 32 and ch not in "\t\r\f\v\x1b")
                  or ch == "\ufffd")
        if "\x00" in line or bad > max(2, len(line) // 10):
            return i + 1
    return 0


def parse_dump(text: str) -> ParsedDump:
    if not text.strip():
        raise DumpError("empty input: no dump to read")
    lines = list(logical_lines(text))
    for i, ln in enumerate(lines):
        if GUEST_MARK.match(ln.text.strip()):
            return parse_vmcs(lines, i)
    if any(RECORD_START.match(ln.text.strip()) for ln in lines):
        return parse_qemu(lines)
    bad = _binary_line(text)
    if bad:
        raw = text.splitlines()[bad - 1] if text.splitlines() else text
        raise DumpError("binary data, not a text dump", bad, raw.encode("unicode_escape",
                        "replace").decode("ascii")[:60])
    first = next((ln for ln in lines if ln.text.strip()), None)
    raise DumpError("not a VMCS dump (no '*** Guest State ***' line) nor a QEMU register dump "
                    "(no 'EAX=' or 'RAX=' line)", first.no if first else 0,
                    first.raw if first else "")
