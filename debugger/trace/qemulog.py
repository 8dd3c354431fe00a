"""QEMU per-instruction logs (`-d cpu,nochain`, one instruction per block) as a record stream.

QEMU prints its register dump before every translation block it executes; with one instruction
per block (`-singlestep` up to QEMU 8.0, `-accel tcg,one-insn-per-tb=on` from 8.1) and `nochain`
that is the state before every instruction.  `QemuLog(path).records()` yields one `QemuRecord`
per dump, reading the file as a stream: where it is (CS:EIP, linear address, stack pointer) is
read at once, the whole register set (`fields()`, via the dump importer's `parse_record`) only
when asked, so the firmware's millions of records before 0000:7C00 cost little.  With
`-d in_asm,...` the instruction bytes QEMU translated are kept and attached to the records at
those addresses.  Lines that belong to no dump (`IN:` blocks, blank lines) are skipped, and so is
the dump `-d int` prints at each interrupt (it follows a `v=.. e=..` line; no instruction).

Anything that is not such a log raises `QemuLogError` with one line naming the file and line:
no dump at all, a dump with a malformed or missing field, binary data.  A last record that is
cut short (QEMU killed while writing) is dropped with a note in `notes`.

`qemu_log_argv(...)` builds the QEMU command line that writes such a log for a boot image, with
the right one-instruction-per-block option for the installed QEMU version.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from debugger.checks.dumps._text import Line
from debugger.checks.dumps.errors import DumpError
from debugger.checks.dumps.qemu import RECORD_START, REQUIRED, parse_record, qemu_ar
from debugger.cpustate import CpuState, Segment
from debugger.machine.cpu import seg_from_cache
from debugger.trace.files import read_head

__all__ = ["QemuLog", "QemuRecord", "QemuLogError", "qemu_version", "one_insn_per_tb_args",
           "qemu_log_argv"]

_DUMP_LINE = re.compile(r"^[A-Z][A-Z0-9]{1,4} *=")
_IP = re.compile(r"^[ER]IP=([0-9a-f]+)\b")
_SP = re.compile(r"\b[ER]SP=([0-9a-f]+)\b")
_CSSS_KEY = re.compile(r"^(?:CS|SS) *=")
_SEGQ = re.compile(r"^(CS|SS) *=([0-9a-f]{4}) ([0-9a-f]{8,16}) ([0-9a-f]{8}) ([0-9a-f]{8})\b")
_ASM = re.compile(r"^0x([0-9a-f]{1,16}):\s+(.*)$")
_HEX2 = re.compile(r"^[0-9a-f]{2}$")
# `-d int`: "     3: v=08 e=0000 i=0 cpl=0 IP=..." then the state at the interrupt (a dump)
_INT_LINE = re.compile(r"^\s*\d+: v=[0-9a-f]+ e=[0-9a-f]+ i=\d")


# The full dump, line by line (the same fields `checks.dumps.qemu.parse_record` reads).
_SEG_NAMES = {"ES": "es", "CS": "cs", "SS": "ss", "DS": "ds", "FS": "fs", "GS": "gs",
              "LDT": "ldtr", "TR": "tr"}
_SEG_LINE = re.compile(r"^[A-Z]{2,3} *= *([0-9a-f]{4}) +([0-9a-f]{8,16}) +([0-9a-f]{8}) +"
                       r"([0-9a-f]{8})\b")
_DT_LINE = re.compile(r"^[GI]DT *= *([0-9a-f]{8,16}) +([0-9a-f]{8})\b")
_KV = re.compile(r"\b([A-Z][A-Z0-9]*) ?=([0-9a-f]+)\b")
_NAMES = {k: k.lower() for k in ("RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP", "RIP",
                                 "CR0", "CR2", "CR3", "CR4", "DR0", "DR1", "DR2", "DR3", "DR6",
                                 "DR7", "EFER")}
_NAMES |= {f"R{i}": f"r{i}" for i in range(8, 16)}
_NAMES |= {"E" + k[1:]: k.lower() for k in ("RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP",
                                           "RSP", "RIP")}
_NAMES |= {"EFL": "rflags", "RFL": "rflags"}
_REQUIRED_FLAT = tuple(f"{n}.selector" if n in _SEG_NAMES.values() else
                       f"{n}.base" if n in ("gdtr", "idtr") else n for n in REQUIRED)


class QemuLogError(ValueError):
    """The file is not a QEMU -d cpu log we can read (one line)."""


@dataclass(slots=True)
class QemuRecord:
    index: int                  # 0 = the first record in the log
    line: int                   # line number of its EAX=/RAX= line
    lines: list[tuple[int, str]]
    cs: int
    eip: int
    linear: int
    sp: int                     # linear address of the stack top
    bits: int = 16              # the code's operand size, from CS.D/L
    ss: int = 0                 # SS selector
    code: bytes | None = None   # from -d in_asm, when the log has it (QEMU shows at most
                                # the first 8 bytes of an instruction)
    path: str = ""
    _kw: dict[str, Any] | None = field(default=None, repr=False)

    def kw(self) -> dict[str, Any]:
        if self._kw is None:
            try:
                kw, _last = parse_record([Line(no, t, t) for no, t in self.lines])
            except DumpError as exc:
                raise QemuLogError(f"{self.path}: {exc}") from None
            missing = [n for n in REQUIRED if n not in kw]
            if missing:
                raise QemuLogError(f"{self.path} line {self.line}: incomplete QEMU register "
                                   f"dump: no {', '.join(n.upper() for n in missing)}")
            self._kw = kw
        return self._kw

    def state(self) -> CpuState:
        try:
            return CpuState(**self.kw())
        except (TypeError, ValueError) as exc:
            raise QemuLogError(f"{self.path} line {self.line}: unusable register dump "
                               f"({exc})") from None

    def fields(self) -> dict[str, int]:
        """The flat fields (`trace.fields`) of the dump: what `kw()` gives, read faster, with
        the segment caches normalised as bootdbg reads QEMU's own (`machine.cpu.seg_from_cache`:
        a loaded TR is busy, as hardware reports it, where QEMU's cache keeps the type LTR
        found), so that both sides of a diff show the same thing for the same CPU state."""
        out: dict[str, int] = {}
        for no, t in self.lines:
            head = t[:3].rstrip(" =")
            if head in _SEG_NAMES:
                m = _SEG_LINE.match(t)
                if not m:
                    raise QemuLogError(f"{self.path} line {no}: malformed QEMU segment line")
                n = _SEG_NAMES[head]
                seg = seg_from_cache(int(m.group(1), 16), int(m.group(2), 16),
                                     int(m.group(3), 16), int(m.group(4), 16), n)
                out[f"{n}.selector"] = seg.selector
                out[f"{n}.base"] = seg.base
                out[f"{n}.limit"] = seg.limit
                out[f"{n}.ar"] = seg.ar
            elif head in ("GDT", "IDT"):
                m = _DT_LINE.match(t)
                if not m:
                    raise QemuLogError(f"{self.path} line {no}: malformed QEMU "
                                       "descriptor-table line")
                out[f"{head.lower()}r.base"] = int(m.group(1), 16)
                out[f"{head.lower()}r.limit"] = int(m.group(2), 16)
            else:
                for k, v in _KV.findall(t):
                    f = _NAMES.get(k)
                    if f is not None:
                        out[f] = int(v, 16)
        missing = [n for n in _REQUIRED_FLAT if n not in out]
        if missing:
            raise QemuLogError(f"{self.path} line {self.line}: incomplete QEMU register dump: "
                               f"no {', '.join(n.split('.')[0].upper() for n in missing)}")
        return out


class QemuLog:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.notes: list[str] = []
        head = read_head(path, 65536, QemuLogError)
        if b"\x00" in head:
            raise QemuLogError(f"{path}: binary data, not a QEMU log or a .bdt trace")

    def records(self) -> Iterator[QemuRecord]:
        """Every register dump in the file, in order (see the module docstring)."""
        code_at: dict[int, bytes] = {}
        cur: list[tuple[int, str]] | None = None
        index = 0
        pending_int = False
        name = str(self.path)
        try:
            f = open(self.path, encoding="utf-8", errors="replace")
        except OSError as exc:
            raise QemuLogError(f"{name}: cannot read ({exc.strerror or exc})") from None
        with f:
            cut = False
            skip = False            # the dump that follows a -d int line is not an instruction
            for no, raw in enumerate(f, 1):
                cut = not raw.endswith("\n")
                text = raw.rstrip("\r\n")
                if "\x00" in text:
                    raise QemuLogError(f"{name} line {no}: binary data in the log")
                if RECORD_START.match(text):
                    if cur is not None and not skip:
                        yield self._record(cur, index, code_at, last=False)
                        index += 1
                    skip = cur is None and pending_int
                    pending_int = False
                    cur = [(no, text)]
                    continue
                if cur is not None:
                    if _DUMP_LINE.match(text):
                        cur.append((no, text))
                        continue
                    if not skip:
                        yield self._record(cur, index, code_at, last=False)
                        index += 1
                    cur = None
                    skip = False
                if _INT_LINE.match(text):
                    pending_int = True
                    continue
                m = _ASM.match(text)
                if m:
                    code = _asm_bytes(m.group(2))
                    if code:
                        code_at[int(m.group(1), 16)] = code
            if cur is not None and not skip:
                rec = self._record(cur, index, code_at, last=True, cut=cut)
                if rec is not None:
                    yield rec
                    index += 1
        if index == 0:
            raise QemuLogError(f"{name}: no QEMU register dump in it (no 'EAX=' or 'RAX=' "
                               "line); make the log with -d cpu,nochain")

    def _record(self, lines: list[tuple[int, str]], index: int, code_at: dict[int, bytes],
                *, last: bool, cut: bool = False) -> Any:
        name = str(self.path)
        ip = sp = None
        segs: dict[str, Segment] = {}
        for no, t in lines:
            m = _IP.match(t)
            if m:
                ip = int(m.group(1), 16)
            m = _SP.search(t)
            if m and sp is None:
                sp = int(m.group(1), 16)
            m = _SEGQ.match(t)
            if m:
                segs[m.group(1)] = Segment(int(m.group(2), 16), int(m.group(3), 16),
                                           int(m.group(4), 16), qemu_ar(int(m.group(5), 16)))
            elif _CSSS_KEY.match(t) and not (last and no == lines[-1][0]):
                raise QemuLogError(f"{name} line {no}: malformed QEMU segment line")
        if cut:
            # The file ends inside this record's last line: a value may be cut in half.
            self.notes.append(f"the last record (line {lines[0][0]}) is cut short; ignored")
            return None
        if ip is None or sp is None or "CS" not in segs or "SS" not in segs:
            what = ", ".join(n for n, v in (("EIP", ip), ("ESP", sp), ("CS", segs.get("CS")),
                                             ("SS", segs.get("SS"))) if v is None)
            if last:
                self.notes.append(f"the last record (line {lines[0][0]}) is cut short; "
                                  "ignored")
                return None
            raise QemuLogError(f"{name} line {lines[0][0]}: incomplete QEMU register dump "
                               f"(no {what})")
        cs, ss = segs["CS"], segs["SS"]
        linear = ip if cs.l else (cs.base + ip) & 0xFFFFFFFF
        sp_lin = (ss.base + (sp & (0xFFFFFFFF if ss.db else 0xFFFF))) & 0xFFFFFFFF
        bits = 64 if cs.l else 32 if cs.db else 16
        rec = QemuRecord(index, lines[0][0], lines, cs.selector, ip, linear, sp_lin, bits,
                         ss.selector, code_at.get(linear), name)
        if last and len(lines) < 14:
            # QEMU writes a dump in one go; a short last one was cut while being written.
            try:
                rec.kw()
            except QemuLogError:
                self.notes.append(f"the last record (line {lines[0][0]}) is cut short; "
                                  "ignored")
                return None
        return rec


def _asm_bytes(rest: str) -> bytes | None:
    """The instruction bytes of an in_asm line's tail ('ea 05 7c 00 00   ljmpw ...')."""
    out = []
    for tok in rest.split(" "):
        if not tok:
            if out:
                break
            continue
        if not _HEX2.match(tok):
            break
        out.append(int(tok, 16))
    return bytes(out) if out else None


# -- making a log ---------------------------------------------------------------------------
def qemu_version(binary: str) -> tuple[int, int, int] | None:
    """(major, minor, micro) from `BINARY --version`, or None if it cannot be run."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True,
                             timeout=30, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"version (\d+)\.(\d+)(?:\.(\d+))?", out)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def one_insn_per_tb_args(version: tuple[int, int, int]) -> list[str]:
    """TCG with one instruction per translation block: `-singlestep` before QEMU 8.1 (which
    deprecated it), the accelerator property `one-insn-per-tb=on` from 8.1 on."""
    if version >= (8, 1, 0):
        return ["-accel", "tcg,one-insn-per-tb=on"]
    return ["-accel", "tcg", "-singlestep"]


DFILTER = "0x500..0x9fffe"      # the README's and `trace --help`'s filter


def qemu_log_argv(binary: str, version: tuple[int, int, int], image: str | Path,
                  log: str | Path, *, drive: str = "fda", dfilter: str | None = DFILTER,
                  in_asm: bool = True, memory_mib: int = 128, serial: str = "null") -> list[str]:
    """QEMU's command line that boots `image` and logs every instruction's state to `log`.

    dfilter: the linear address range(s) to log (QEMU's -dfilter syntax); the default logs the
    boot code loaded at 0000:7C00, what it loads after it and where it moves itself (a standard
    MBR runs from 0000:0600: all RAM above the BIOS data area), not the firmware's own work
    (which the diff skips anyway, and which makes the log gigabytes long).  None logs all.
    """
    iface, boot = ("floppy", "a") if drive == "fda" else ("ide", "c")
    argv = [binary, *one_insn_per_tb_args(version), "-m", str(memory_mib), "-display", "none",
            "-no-reboot", "-serial", serial, "-monitor", "none",
            "-d", ("in_asm," if in_asm else "") + "cpu,nochain", "-D", str(log)]
    if dfilter:
        argv += ["-dfilter", dfilter]
    argv += ["-drive", f"file={image},format=raw,if={iface},snapshot=on", "-boot", boot]
    return argv
