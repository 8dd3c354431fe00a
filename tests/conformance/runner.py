"""Build the CPU conformance images and run one under bootdbg, qemu-system-i386 or Bochs.

Every runner returns the text the guest printed on port E9h, up to and including its "END" line
(None when the emulator is not installed).  QEMU and Bochs are stopped by the guest itself (port
F4h: QEMU's isa-debug-exit; the "Shutdown" string on port 8900h: Bochs), and killed after a
timeout otherwise (then whatever they printed is returned, without "END").

`python -m tests.conformance.runner NAME...` prints the three outputs side by side.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "images" / "conformance"
CACHE = ROOT / "tests" / ".cache" / "conformance"
FLOPPY = 1474560
END = "END"
BEGIN = "BEGIN\n"


def names() -> list[str]:
    return sorted(p.stem for p in SOURCES.glob("*.asm"))


def build(name: str, where: Path = SOURCES) -> Path:
    """Assemble images/conformance/NAME.asm (or WHERE/NAME.asm, with the same includes) into a
    1.44 MB floppy image (cached by content)."""
    src = (where / f"{name}.asm").read_bytes()
    deps = b"".join(inc.read_bytes() for inc in sorted(SOURCES.glob("*.inc")))
    key = hashlib.sha256(src + deps).hexdigest()[:16]
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / f"{name}-{key}.img"
    if not out.exists():
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        r = subprocess.run(["nasm", "-f", "bin", "-I", f"{SOURCES}/", "-o", str(tmp),
                            str(where / f"{name}.asm")], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"nasm failed on {name}.asm:\n{r.stderr}")
        data = tmp.read_bytes()
        tmp.write_bytes(data + bytes(FLOPPY - len(data)))
        tmp.replace(out)
    return out


def _upto_end(text: str) -> str:
    """The guest's lines: after its "BEGIN" (Bochs prints its banner and debugger prompt on the
    same stream before it) up to and including "END"."""
    if BEGIN in text:
        text = text[text.index(BEGIN) + len(BEGIN):]
    lines = text.splitlines()
    if END in lines:
        lines = lines[:lines.index(END) + 1]
    return "\n".join(lines) + "\n" if lines else ""


def run_bootdbg(img: Path, max_insns: int = 20_000_000) -> str:
    from debugger.machine.disk import disk_from_bytes
    from debugger.machine.pc import Machine

    m = Machine([disk_from_bytes(img.read_bytes(), img.name, boot=True)])
    m.run(max_insns)
    return _upto_end(m.devices.debugcon.output.decode("latin-1"))


def run_qemu(img: Path, timeout: float = 60, machine: str = "pc") -> str | None:
    """qemu-system-i386; for the long-mode images (named longmode*) qemu-system-x86_64, the same
    QEMU with a 64-bit CPU.  `machine` is QEMU's -machine option."""
    exe = shutil.which("qemu-system-x86_64" if img.name.startswith("longmode")
                       else "qemu-system-i386")
    if exe is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "e9.txt"
        cmd = [exe, "-nodefaults", "-machine", machine, "-m", "128", "-display", "none",
               "-drive", f"file={img},format=raw,if=floppy,readonly=on", "-boot", "a",
               "-debugcon", f"file:{out}", "-device", "isa-debug-exit,iobase=0xf4,iosize=1",
               "-no-reboot"]
        try:
            subprocess.run(cmd, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        return _upto_end(out.read_bytes().decode("latin-1")) if out.exists() else ""


def bochs_available() -> bool:
    return (shutil.which("bochs") is not None
            and Path("/usr/share/bochs/BIOS-bochs-latest").exists()
            and Path("/usr/share/vgabios/vgabios.bin").exists())


def run_bochs(img: Path, timeout: float = 60) -> str | None:
    """Bochs 2.7 (Debian's build has its debugger: the -rc file says "continue") prints port E9h
    output on its standard output; it is stopped once "END" appears there (or after `timeout`)."""
    if not bochs_available():
        return None
    with tempfile.TemporaryDirectory() as d:
        rc = Path(d) / "bochsrc"
        rc.write_text(
            "megs: 32\n"
            "romimage: file=/usr/share/bochs/BIOS-bochs-latest\n"
            "vgaromimage: file=/usr/share/vgabios/vgabios.bin\n"
            f"floppya: 1_44={img}, status=inserted\n"
            "boot: floppy\n"
            # (Debian's Bochs has no "nogui"; rfb with no wait for a viewer is headless)
            'display_library: rfb, options="timeout=0"\n'
            "port_e9_hack: enabled=1\n"
            "speaker: enabled=0\n"
            f"log: {Path(d) / 'bochs.log'}\n"
            "panic: action=fatal\nerror: action=ignore\ninfo: action=ignore\n"
            "debug: action=ignore\n"
            "cpu: reset_on_triple_fault=0\n")
        cmds = Path(d) / "debugger.rc"
        cmds.write_text("continue\nquit\n")
        e9 = Path(d) / "e9.txt"
        with open(e9, "wb") as sink:
            p = subprocess.Popen(["bochs", "-q", "-f", str(rc), "-rc", str(cmds)], stdout=sink,
                                 stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd=d)
            deadline = time.monotonic() + timeout
            try:
                while p.poll() is None and time.monotonic() < deadline:
                    if f"\n{END}\n".encode() in e9.read_bytes():
                        break
                    time.sleep(0.1)
            finally:
                if p.poll() is None:
                    p.kill()
                p.wait()
        raw = e9.read_bytes().decode("latin-1")
        if BEGIN not in raw:
            return None         # (Bochs could not start here, e.g. no rfb display library)
        return _upto_end(raw)


def main(argv: list[str]) -> int:
    for name in argv or names():
        img = build(name)
        outs = {"bootdbg": run_bootdbg(img), "qemu": run_qemu(img), "bochs": run_bochs(img)}
        print(f"== {name}")
        for who, text in outs.items():
            print(f"-- {who}")
            print(text if text is not None else "(not installed)", end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
