"""`bootdbg bench real`: boot software from Debian packages, each run to its prompt, against QEMU.

Each image (`stockimages.py`) is booted from reset to its prompt -- serial output or screen text
-- under bootdbg with no watchers, with every catchpoint armed (continuing after each stop), and
recording to a .bdt file; then under qemu-system-i386 (TCG, SeaBIOS's POST included) in the same
run.  Printed: time to the prompt, instructions, MIPS, and the ratios to QEMU's time and to bare
Unicorn's MIPS on the bench-real loop (measured in the same run).  An image whose package is
missing is skipped with the reason; a configuration that does not reach the prompt within its
time limit says so (its MIPS is then over the instructions it did run).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from debugger import stockimages

__all__ = ["REAL_IMAGES", "RealImage", "RealFigure", "RealResult", "run_real", "qemu_time"]

CATCHES = ("vm86", "mode", "cpl", "vmx-invalid", "vmx-valid", "dtr", "sreg", "cr",
           "triple-fault", "a20")
CHUNK = 4_000_000           # screen prompts are looked for every this many instructions
CONFIGS = ("no watchers", "all catchpoints", "record")
SHORT = 0.5                 # seconds: a configuration over sooner is timed REPEATS times ...
REPEATS = 7                 # ... and its median shown


@dataclass(frozen=True)
class RealImage:
    name: str
    build: Callable[..., Path] | None     # None: images/<name>.img
    prompt: str                           # text that ends the run ("" = the guest halts)
    where: str                            # "serial" | "screen" | "halt"
    kind: str | None = None               # disk kind (None: by size)
    budget: int = 2_000_000_000
    qemu: str = "qemu-system-i386"        # the QEMU it is timed under (64-bit guests: x86_64)


REAL_IMAGES = (
    RealImage("syslinux", stockimages.syslinux_image, "boot: ", "serial"),
    RealImage("grub-core", stockimages.grub_image, "grub rescue> ", "serial"),
    RealImage("grub-rescue-floppy", stockimages.grub_rescue_floppy, "Press enter to boot",
              "screen"),
    RealImage("memtest86+", stockimages.memtest_floppy, "<ESC> Exit", "screen"),
    RealImage("ipxe", stockimages.ipxe_iso, "No more network devices", "screen", kind="hd"),
    RealImage("linux", stockimages.linux_image, "Linux version", "serial", kind="hd",
              budget=20_000_000_000, qemu="qemu-system-x86_64"),
    RealImage("bench-switch", None, "", "halt"),
)


@dataclass
class RealFigure:
    config: str
    seconds: float
    instructions: int
    reached: bool
    note: str = ""

    @property
    def mips(self) -> float:
        return self.instructions / self.seconds / 1e6 if self.seconds else 0.0


@dataclass
class RealResult:
    image: str
    skipped: str = ""
    figures: list[RealFigure] = field(default_factory=list)
    qemu_seconds: float | None = None
    qemu_note: str = ""
    qemu: str = "qemu-system-i386"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for f, fd in zip(self.figures, d["figures"]):
            fd["mips"] = f.mips
            fd["ratio_to_qemu"] = (f.seconds / self.qemu_seconds
                                   if self.qemu_seconds and f.reached else None)
        return d


def _path(spec: RealImage, cache: Path | None) -> Path:
    if spec.build is None:
        from debugger.images import image_path

        p = image_path(spec.name)
        if not p.exists():
            raise stockimages.Unavailable(f"{p} missing")
        return p
    return spec.build(cache)


def _session(path: Path, spec: RealImage) -> Any:
    from debugger.engine.session import Session
    from debugger.machine.disk import open_disk

    return Session(disks=[open_disk(path, kind=spec.kind, boot=True)])


def _reached(s: Any, spec: RealImage, seen: dict[str, Any] | None = None) -> bool:
    """The prompt is there (asked after every stop: the screen is decoded again only when its
    memory changed since the last time, given `seen`)."""
    if spec.where == "serial":
        return spec.prompt.encode() in s.machine.serial
    if spec.where == "screen":
        vga = s.machine.devices.vga
        if seen is not None:
            raw = (vga.screen_bytes(), vga.cols, vga.rows)
            if seen.get("raw") == raw:
                return bool(seen["found"])
            seen["raw"] = raw
        found = any(spec.prompt in line for line in vga.screen_text())
        if seen is not None:
            seen["found"] = found
        return found
    return False


def run_bootdbg(path: Path, spec: RealImage, config: str, *, limit: float = 300.0,
                tmp: Path | None = None) -> RealFigure:
    """Boot under bootdbg with `config` until the prompt, the budget or `limit` seconds."""
    s = _session(path, spec)
    m = s.machine
    rec = None
    if config == "all catchpoints":
        for kind in CATCHES:
            s.catch(kind)
    elif config == "record":
        from debugger.trace.recorder import Recorder

        rec = Recorder(s, (tmp or Path(tempfile.gettempdir())) / f"bench-{spec.name}.bdt")
    if spec.where == "serial":
        want = spec.prompt.encode()
        chained = m.on_serial

        def on_serial(byte: int) -> None:
            if chained is not None:
                chained(byte)
            if m.serial_out.endswith(want):
                m.stop_requested = True         # (what Ctrl-C does: the run ends here)
                m.uc.emu_stop()
        m.on_serial = on_serial
    stops = 0
    seen: dict[str, Any] = {}
    reached = False
    why = ""
    t0 = time.perf_counter()
    while True:
        left = spec.budget - s.icount
        if left <= 0:
            why = "budget used up"
            break
        if time.perf_counter() - t0 > limit:
            why = f"not there after {limit:.0f} s"
            break
        ev = s.cont(max_insns=min(left, CHUNK))
        if _reached(s, spec, seen):
            reached = True
            break
        if ev.kind == "budget":
            continue
        if ev.kind == "halted" and spec.where == "halt":
            reached = True
            break
        if ev.kind in ("triple-fault", "reset", "unmapped", "unsupported", "boot-failed",
                       "halted", "interrupt"):
            why = f"stopped: {ev.kind}: {ev.message}"
            break
        stops += 1
    seconds = time.perf_counter() - t0
    if rec is not None:
        rec.close("budget")
    note = f"{stops:,} stops, {stops / seconds:,.0f}/s" if stops else ""
    if why:
        note = (note + "; " if note else "") + why
    return RealFigure(config, seconds, s.icount, reached, note)


# -- QEMU -------------------------------------------------------------------------------------------
def qemu_time(path: Path, spec: RealImage, *, limit: float = 120.0) -> tuple[float | None, str]:
    """Seconds from starting spec.qemu to the prompt (None and why when it is not)."""
    qemu = shutil.which(spec.qemu)
    if qemu is None:
        return None, f"{spec.qemu} is not installed"
    if spec.where == "halt":
        return None, "no prompt to wait for (the guest halts)"
    kind = spec.kind or ("floppy" if path.stat().st_size <= 1440 * 1024 else "hd")
    drive = (["-drive", f"file={path},format=raw,if=floppy,readonly=on", "-boot", "a"]
             if kind == "floppy" else
             ["-drive", f"file={path},format=raw,if=ide,snapshot=on", "-boot", "c"])
    tmp = Path(tempfile.mkdtemp(prefix="bench-qemu-"))
    sock = tmp / "mon"
    args = [qemu, "-nodefaults", "-display", "none", "-vga", "std", "-m", "128",
            "-serial", "stdio", "-monitor", f"unix:{sock},server,nowait", "-net", "none",
            *drive]
    t0 = time.perf_counter()
    p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        if spec.where == "serial":
            return _qemu_serial(p, spec.prompt.encode(), t0, limit)
        return _qemu_screen(p, sock, tmp / "vga", spec.prompt, t0, limit)
    finally:
        p.kill()
        p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def _qemu_serial(p: subprocess.Popen, want: bytes, t0: float,
                 limit: float) -> tuple[float | None, str]:
    import selectors

    sel = selectors.DefaultSelector()
    assert p.stdout is not None
    os.set_blocking(p.stdout.fileno(), False)
    sel.register(p.stdout, selectors.EVENT_READ)
    seen = b""
    while time.perf_counter() - t0 < limit:
        if not sel.select(timeout=0.5):
            continue
        chunk = p.stdout.read() or b""
        if not chunk and p.poll() is not None:
            return None, "qemu exited"
        seen += chunk
        if want in seen:
            return time.perf_counter() - t0, ""
    return None, f"not there after {limit:.0f} s"


def _qemu_screen(p: subprocess.Popen, sock: Path, dump: Path, want: str, t0: float,
                 limit: float) -> tuple[float | None, str]:
    conn = None
    while time.perf_counter() - t0 < limit:
        if p.poll() is not None:
            return None, "qemu exited"
        if conn is None:
            try:
                conn = socket.socket(socket.AF_UNIX)
                conn.connect(str(sock))
                conn.settimeout(2)
            except OSError:
                conn = None
                time.sleep(0.01)
                continue
        conn.sendall(f'pmemsave 0xb8000 4000 "{dump}"\n'.encode())    # (quoted: a path)
        time.sleep(0.02)
        try:
            conn.recv(65536)
            data = dump.read_bytes()
        except OSError:
            continue
        text = data[0::2].decode("latin-1")
        if want in text:
            return time.perf_counter() - t0, "screen polled every ~20 ms"
    return None, f"not there after {limit:.0f} s"


def bare_reference() -> float:
    """Bare Unicorn's MIPS on the bench-real loop (the reference for the ratios)."""
    from debugger.bench import _at, _bare_mips, _prefix
    from debugger.images import image_path

    path = image_path("bench-real")
    start, total = _prefix(path, 2_000_000_000)
    s = _at(path, start)
    return _bare_mips(s, total - s.icount)[1]


def _timed(path: Path, spec: RealImage, config: str, limit: float, tmp: Path) -> RealFigure:
    """`run_bootdbg`, and for a configuration over in under SHORT seconds (bench-switch: 30 ms,
    where one scheduler hiccup moves the figure by a third) the median of REPEATS runs."""
    f = run_bootdbg(path, spec, config, limit=limit, tmp=tmp)
    if f.seconds >= SHORT or not f.reached:
        return f
    runs = sorted([f] + [run_bootdbg(path, spec, config, limit=limit, tmp=tmp)
                         for _ in range(REPEATS - 1)], key=lambda x: x.seconds)
    med = runs[len(runs) // 2]
    med.note = (med.note + "; " if med.note else "") + f"median of {REPEATS} runs"
    return med


def run_real(names: tuple[str, ...] | None = None, *, configs: tuple[str, ...] = CONFIGS,
             limit: float = 300.0, qemu: bool = True, cache: Path | None = None,
             on_result: Callable[[RealResult], None] | None = None) -> list[RealResult]:
    """Each image in turn; `on_result` is called with each image's result as it is done."""
    out: list[RealResult] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-real-"))
    try:
        for spec in REAL_IMAGES:
            if names and spec.name not in names:
                continue
            res = RealResult(spec.name, qemu=spec.qemu)
            out.append(res)
            try:
                path = _path(spec, cache)
            except stockimages.Unavailable as exc:
                res.skipped = str(exc)
            except subprocess.CalledProcessError as exc:
                res.skipped = f"building the image failed: {exc}"
            if res.skipped:
                if on_result is not None:
                    on_result(res)
                continue
            for config in configs:
                res.figures.append(_timed(path, spec, config, limit, tmp))
            if qemu:
                res.qemu_seconds, res.qemu_note = qemu_time(path, spec)
            if on_result is not None:
                on_result(res)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
