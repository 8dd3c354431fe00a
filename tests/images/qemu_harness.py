"""Boot an image in QEMU (the oracle) and collect its serial transcript and final CPU state.

`qemu_final_state(img, drive)` boots `img` headless in qemu-system-i386 (TCG, SeaBIOS) with
`drive` "fda" (floppy, boot order a) or "hda" (IDE disk, boot order c), waits until the serial
transcript's last line is `DONE` or starts with `FAIL`, waits until the CPU is halted, reads
`info registers` through QMP and kills QEMU.  Returns (serial_text, info_registers_text).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["QemuError", "qemu_binary", "qemu_final_state", "final_line_seen", "halt_address",
           "parse_info_registers"]

QEMU_I386 = "qemu-system-i386"
QEMU_X86_64 = "qemu-system-x86_64"


class QemuError(Exception):
    """QEMU could not be run, or the guest did not finish in time."""


def qemu_binary(long_mode: bool = False) -> str | None:
    """Path of the QEMU binary to use (x86_64 only for images that need long mode)."""
    return shutil.which(QEMU_X86_64 if long_mode else QEMU_I386)


def final_line_seen(text: str) -> bool:
    """True once the transcript ends with a complete `DONE` or `FAIL ...` line."""
    if not text.endswith("\n"):
        return False
    last = text[:-1].rsplit("\n", 1)[-1]
    return last == "DONE" or last.startswith("FAIL")


def halt_address(image: bytes) -> int | None:
    """Linear address of the final HLT, from the image's "BDBGHALT" + dd marker (or None)."""
    i = image.find(b"BDBGHALT")
    if i < 0:
        return None
    return int.from_bytes(image[i + 8:i + 12], "little")


_REG = re.compile(r"\b([A-Z][A-Z0-9]*)=([0-9a-fA-F]+)\b")
_SEG = re.compile(r"^(ES|CS|SS|DS|FS|GS|LDT|TR)\s*=\s*([0-9a-f]{4}) ([0-9a-f]{8,16}) "
                  r"([0-9a-f]{8}) ([0-9a-f]{8})", re.M)


def parse_info_registers(text: str) -> dict[str, int | tuple[int, int, int, int]]:
    """Registers from QEMU's `info registers`: plain NAME=hex fields as ints, segment lines as
    (selector, base, limit, flags).  Raises ValueError if EIP/RIP or CS is missing."""
    regs: dict[str, int | tuple[int, int, int, int]] = {}
    for line in text.splitlines():
        if _SEG.match(line):
            continue
        for name, val in _REG.findall(line):
            regs.setdefault(name, int(val, 16))
    for m in _SEG.finditer(text):
        regs[m.group(1)] = tuple(int(m.group(i), 16) for i in range(2, 6))  # type: ignore
    if not ("EIP" in regs or "RIP" in regs) or "CS" not in regs:
        raise ValueError("not a QEMU 'info registers' dump")
    return regs


class _Qmp:
    def __init__(self, path: str, deadline: float):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise QemuError("QMP socket did not appear") from None
                time.sleep(0.02)
        self.sock.settimeout(10)
        self.buf = b""
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self) -> dict:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise QemuError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name: str, **args) -> object:
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._read()
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise QemuError(f"QMP {name}: {reply['error'].get('desc')}")

    def hmp(self, line: str) -> str:
        return str(self.cmd("human-monitor-command", **{"command-line": line}))

    def close(self) -> None:
        self.sock.close()


def qemu_final_state(img: str | os.PathLike, drive: str = "fda", *, timeout: float = 60.0,
                     long_mode: bool = False, memory_mib: int = 128) -> tuple[str, str]:
    """Boot `img` in QEMU until its final serial line; return (serial_text, info_registers).

    drive: "fda" (floppy, -boot a) or "hda" (IDE hard disk, -boot c).  long_mode: use
    qemu-system-x86_64 (qemu-system-i386 cannot run 64-bit code).  Raises QemuError when QEMU
    is missing, exits early (e.g. triple fault with -no-reboot) or the guest does not finish
    within `timeout` seconds; the message then carries the transcript so far.
    """
    if drive not in ("fda", "hda"):
        raise ValueError(f"drive must be 'fda' or 'hda', not {drive!r}")
    qemu = qemu_binary(long_mode)
    if qemu is None:
        raise QemuError(f"{QEMU_X86_64 if long_mode else QEMU_I386} is not installed")
    img = Path(img).resolve()
    with tempfile.TemporaryDirectory(prefix="bootdbg-qemu-") as tmp:
        serial = Path(tmp) / "serial.txt"
        qmp_path = str(Path(tmp) / "qmp.sock")
        iface, boot = ("floppy", "a") if drive == "fda" else ("ide", "c")
        argv = [qemu, "-accel", "tcg", "-m", str(memory_mib), "-display", "none",
                "-no-reboot",
                "-serial", f"file:{serial}", "-qmp", f"unix:{qmp_path},server=on,wait=off",
                "-drive", f"file={img},format=raw,if={iface},snapshot=on", "-boot", boot]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        qmp = None
        try:
            text = ""
            while True:
                text = serial.read_bytes().decode("latin-1") if serial.exists() else ""
                if final_line_seen(text):
                    break
                if proc.poll() is not None:
                    out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                    raise QemuError(f"QEMU exited ({proc.returncode}) before the final line; "
                                    f"serial so far: {text!r}; qemu said: {out.strip()!r}")
                if time.monotonic() > deadline:
                    raise QemuError(f"no DONE/FAIL line after {timeout:.0f}s; "
                                    f"serial so far: {text!r}")
                time.sleep(0.02)
            qmp = _Qmp(qmp_path, deadline)
            while True:  # the final line is printed just before the halt loop
                regs = qmp.hmp("info registers")
                if re.search(r"\bHLT=1\b", regs) or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            text = serial.read_bytes().decode("latin-1")
            return text, regs
        finally:
            if qmp is not None:
                qmp.close()
            proc.kill()
            proc.wait()
