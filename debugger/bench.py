"""`bootdbg bench`: engine speed against bare Unicorn, measured in the same run.

For each benchmark image the guest is first booted once under bootdbg to learn its total
instruction count and where its last BIOS call returned (the loader part).  "Bare Unicorn" is a
plain Unicorn engine, with no hooks but IN/OUT (so the serial port reads as ready), started from a
copy of the CPU state and RAM at that point and run to the final HLT; its MIPS is the reference.
Every other configuration runs the same guest under a `Session` from the same point, and is
reported as a ratio to bare Unicorn.
"""
from __future__ import annotations

import ctypes
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = ["BENCH_IMAGES", "run_bench", "BenchResult"]

BENCH_IMAGES = ("bench-real", "bench-pm32", "bench-switch")
# Guests made here (a few bytes of real-mode code, no image file): a loop single-stepped with
# TF=1 through an IVT handler that IRETs, and a loop that reloads DS and ES run under `catch
# mode` and `catch vm86`.  Default: measured after the images.
MICRO = ("tf-real", "sreg-catch-mode")
# All catchpoints on an image that switches modes thousands of times stop ~25 times per trip,
# each stop exact (a checkpoint and a re-execution): the figure is taken over this many stops.
MAX_STOPS = 5_000


@dataclass
class Figure:
    config: str
    seconds: float
    instructions: int
    mips: float
    ratio: float | None = None          # to bare Unicorn
    unit: str = "MIPS"
    note: str = ""


@dataclass
class BenchResult:
    image: str
    total_instructions: int
    measured_instructions: int
    bare_mips: float
    figures: list[Figure] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _open(path: Path) -> Any:
    from debugger.engine.session import Session
    from debugger.machine.disk import open_disk

    return Session(disks=[open_disk(path, boot=True)])


def _prefix(path: Path, budget: int) -> tuple[int, int]:
    """(icount after the last BIOS call, total icount) of a complete boot."""
    s = _open(path)
    ev = s.cont(max_insns=budget)
    total = s.icount
    bios = [e.icount for e in s.machine.events if e.kind.startswith("bios") or e.kind == "disk"]
    last_bios = max([0] + bios)
    if ev.kind not in ("halted",):
        raise RuntimeError(f"{path.name}: benchmark image did not halt ({ev.kind}: {ev.message})")
    return last_bios, total


def _at(path: Path, icount: int) -> Any:
    """A session at `icount`, moved on out of the BIOS ROM (a service must finish first)."""
    s = _open(path)
    m = s.machine
    while m.icount < icount:
        m.run(icount - m.icount)
    while 0xF0000 <= m._pc() < 0x100000:
        m.run(1)
    return s


def _bare_mips(s: Any, instructions: int) -> tuple[float, float]:
    """Run the rest of the guest in a hook-free Unicorn; returns (seconds, MIPS)."""
    from unicorn import UC_ARCH_X86, UC_HOOK_INSN, UC_MODE_64, Uc
    from unicorn import unicorn_const as uconst
    from unicorn import x86_const as x

    m = s.machine
    m.uc.ctl(uconst.UC_CTL_CONTEXT_MODE, uconst.UC_CTL_IO_WRITE,
             ctypes.c_int(uconst.UC_CTL_CONTEXT_CPU))
    ctx = m.uc.context_save()
    m.uc.ctl(uconst.UC_CTL_CONTEXT_MODE, uconst.UC_CTL_IO_WRITE,
             ctypes.c_int(m.memsnap.context_mode))
    bare = Uc(UC_ARCH_X86, UC_MODE_64)
    bare.mem_map(0, m.config.ram_size)
    bare.mem_write(0, bytes(m.uc.mem_read(0, min(m.config.ram_size, 16 << 20))))
    bare.context_restore(ctx)
    bare.hook_add(UC_HOOK_INSN, lambda uc, port, size, ud: 0x60 if port == 0x3FD else 0xFF,
                  None, 1, 0, x.UC_X86_INS_IN)
    bare.hook_add(UC_HOOK_INSN, lambda uc, port, size, value, ud: None, None, 1, 0,
                  x.UC_X86_INS_OUT)
    start = m.cpu.rip
    t0 = time.perf_counter()
    bare.emu_start(start, 0, 0, 0)      # raises UcError if the guest needs delivery/devices
    dt = time.perf_counter() - t0
    return dt, instructions / dt / 1e6


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_image(path: Path, *, budget: int = 2_000_000_000,
                configs: tuple[str, ...] | None = None,
                reference: float | None = None) -> BenchResult:
    from unicorn import UcError

    start_icount, total = _prefix(path, budget)
    start_icount = _at(path, start_icount).icount
    n = total - start_icount
    note = ""
    try:
        _, bare = _bare_mips(_at(path, start_icount), n)
    except UcError as exc:
        if reference is None:
            raise RuntimeError(f"{path.name}: bare Unicorn cannot run it ({exc}) and there is "
                               "no reference figure") from None
        bare = reference
        note = "bare Unicorn cannot run this guest alone (it needs interrupt delivery); " \
               "ratios use the previous image's bare figure"
    res = BenchResult(path.stem, total, n, bare, note=note)

    def add(name: str, seconds: float, count: int, unit: str = "MIPS") -> None:
        rate = count / seconds / (1e6 if unit == "MIPS" else 1)
        res.figures.append(Figure(name, seconds, count, rate,
                                  rate / bare if unit == "MIPS" and bare else None, unit))

    def run_config(name: str, arm: Callable[[Any], None]) -> None:
        s = _at(path, start_icount)
        arm(s)
        add(name, _timed(lambda: s.cont()), n)

    def all_catches(s: Any) -> None:
        for kind in ("vm86", "mode", "cpl", "vmx-invalid", "vmx-valid", "dtr", "sreg", "cr",
                     "triple-fault", "a20"):
            s.catch(kind)
        # Catchpoints make the run stop; measure the time to the end across all stops.

    wanted = configs or ("no watchers", "all catchpoints", "one breakpoint",
                         "one memory watchpoint", "api single-step", "step 1000000",
                         "record", "record --full", "reverse-stepi")
    if "no watchers" in wanted:
        run_config("no watchers", lambda s: None)
    if "catch mode, vm86" in wanted:
        run_config("catch mode, vm86", lambda s: (s.catch("mode"), s.catch("vm86")))
    if "all catchpoints" in wanted:
        s = _at(path, start_icount)
        all_catches(s)

        stops = 0

        def until_end() -> None:
            nonlocal stops
            while stops < MAX_STOPS and not s.cont().final:
                stops += 1
        seconds = _timed(until_end)
        done = s.icount - start_icount
        add("all catchpoints", seconds, done)
        if stops:
            res.figures[-1].note = (f"{stops:,} stops, {stops / seconds:,.0f}/s"
                                    + (f"; first {done:,} instructions" if done < n else ""))
    if "one breakpoint" in wanted:
        run_config("one breakpoint", lambda s: s.break_at(0xFFFF0))
    if "one memory watchpoint" in wanted:
        run_config("one memory watchpoint", lambda s: s.watch(0x7000, 2))
    if "api single-step" in wanted:
        steps = 20_000
        best = min(_timed(lambda: [s.step() for _ in range(steps)])
                   for s in (_at(path, start_icount) for _ in range(SHORT_TRIES)))
        add("api single-step", best, steps, unit="steps/s")
        res.figures[-1].note = f"best of {SHORT_TRIES} runs of {steps:,} steps"
    if "step 1000000" in wanted:
        s = _at(path, start_icount)
        count = min(1_000_000, n)
        add("step 1000000", _timed(lambda: s.step(count)), count)
    _recording_figures(path, start_icount, n, wanted, res, add)
    return res


# -- recording: record / record --full / reverse-stepi (time travel) ----------------------------------
FULL_MAX = 40_000_000        # record --full is measured over at most this many instructions
FULL_TRIES = 3               # ... that many times (the best counts)
SHORT_TRIES = 3              # the same for the API single-step figure (0.2 s a run)
RSI_MAX = 100_000_000        # the recording reverse-stepi is measured in
RSI_MIN = 10_000_000         # shorter guests: no reverse-stepi figure


def _recording_figures(path: Path, start_icount: int, n: int, wanted: tuple[str, ...],
                       res: BenchResult, add: Callable[..., None]) -> None:
    """Recording to a .bdt file as a ratio of watching (the "no watchers" run), the
    per-instruction trace's speed and size, and reverse-stepi latency in a long recording."""
    import random
    import tempfile

    from debugger.trace import format as F
    from debugger.trace.reader import TraceReader
    from debugger.trace.recorder import Recorder
    from debugger.trace.timetravel import attach

    tmp = Path(tempfile.mkdtemp(prefix="bdt-bench-"))
    try:
        if "record" in wanted:
            watch = next((f.seconds for f in res.figures if f.config == "no watchers"), None)
            if watch is None:
                s = _at(path, start_icount)
                watch = _timed(lambda: s.cont())
            s = _at(path, start_icount)

            def record() -> None:
                rec = Recorder(s, tmp / "run.bdt")
                ev = s.cont()
                rec.close(ev.kind)
            add("record", _timed(record), n)
            res.figures[-1].note = f"{res.figures[-1].seconds / watch:.2f}x the time of " \
                                   "watching"
        if "record --full" in wanted:
            count = min(n, FULL_MAX)
            info: dict[str, Any] = {}

            def record_full(s: Any) -> None:
                t0 = time.thread_time()
                rec = Recorder(s, tmp / "full.bdt", full=True)
                s.cont(max_insns=count)
                info.update(rec.close("budget"))
                info["cpu"] = time.thread_time() - t0
            # (a second or so each: the best of FULL_TRIES, as timeit does, so that a burst of
            # other work on the machine does not make the figure)
            seconds, cpus = [], []
            for _ in range(FULL_TRIES):
                s = _at(path, start_icount)
                seconds.append(_timed(lambda: record_full(s)))
                cpus.append(info["cpu"])
            info["cpu"] = min(cpus)
            add("record --full", min(seconds), count)
            with TraceReader(tmp / "full.bdt") as r:
                trace = sum(e.length + F.CHUNK_HEAD.size for e in r.of_type(F.TRACE))
            full = info["full"]
            res.figures[-1].note = (
                f"{trace / count:.2f} bytes/instruction in TRACE chunks, "
                f"{info['bytes'] / count:.2f} the whole file; "
                f"{'native' if full['native'] else 'Python'} hooks; emulating thread "
                f"{count / info['cpu'] / 1e6:.1f} MIPS of its CPU time; best of "
                f"{FULL_TRIES} runs"
                + (f"; first {count:,} instructions" if count < n else ""))
        if "reverse-stepi" in wanted and n >= RSI_MIN:
            _reverse_stepi_figure(path, start_icount, min(n, RSI_MAX), res, attach, random)
    finally:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def _reverse_stepi_figure(path: Path, start_icount: int, count: int, res: BenchResult,
                          attach: Any, random: Any) -> None:
    """Record `count` instructions with time travel on, then reverse-stepi at the end and after
    a goto to random places: the first reverse step from a position (the replay from a
    timeline point) and the repeated ones (from the dense points the first one left)."""
    s = _at(path, start_icount)
    tt = attach(s)
    s.cont(max_insns=count)
    end = s.icount
    rng = random.Random(7)
    first: list[float] = []
    again: list[float] = []
    for k, pos in enumerate([end] + [rng.randrange(start_icount + 1000, end)
                                     for _ in range(8)]):
        if k:
            tt.goto(pos)
        for i in range(4):
            t0 = time.perf_counter()
            tt.reverse_stepi()
            (again if i else first).append((time.perf_counter() - t0) * 1000)
    tl = tt.tl
    again.sort()
    res.figures.append(Figure(
        "reverse-stepi (worst)", max(first) / 1000, count, max(first), None, "ms",
        note=f"{count / 1e6:.0f} M-instruction recording, {len(tl.keys)} points "
             f"({tl.bytes_used / 1e6:.1f} MB of {tl.budget / 1e6:.0f} MB budget); first step "
             f"at {len(first)} places: median {sorted(first)[len(first) // 2]:.0f} ms; "
             f"repeated: median {again[len(again) // 2]:.1f} ms, worst {again[-1]:.1f} ms"))


def run_bench(names: tuple[str, ...] = BENCH_IMAGES + MICRO, **kw: Any) -> list[BenchResult]:
    from debugger.images import image_path

    out: list[BenchResult] = []
    ref = None
    for name in names:
        if name in MICRO:
            r = micro_bench(name, reference=ref)
        else:
            r = bench_image(image_path(name), reference=ref, **kw)
        ref = r.bare_mips
        out.append(r)
    return out


_PROLOGUE = bytes.fromhex("ea057c0000" "fa31c08ed88ed0bc0070")   # jmp 0:s; cli; DS=SS=0; SP


def micro_image(name: str, loops: int) -> bytes:
    """The boot sector of a MICRO guest (`loops` iterations), ending in HLT."""
    n = loops.to_bytes(4, "little")
    if name == "tf-real":
        # mov word [4], h; mov word [6], 0; mov ecx, n; set TF (pushf/pop/or ah,1/push/popf);
        # l: dec ecx; jnz l; clear TF; hlt; h: iret
        code = (_PROLOGUE + bytes.fromhex("c7060400") + bytes(2) + bytes.fromhex("c70606000000")
                + b"\x66\xb9" + n + bytes.fromhex("9c5880cc01509d" "664975fc" "9c5880e4fe509d"
                                                   "f4cf"))
        h = 0x7C00 + len(code) - 1
        code = code[:19] + h.to_bytes(2, "little") + code[21:]
    elif name == "sreg-catch-mode":
        # mov ecx, n; l: mov ax, ds; mov ds, ax; mov es, ax; dec ecx; jnz l; hlt
        code = _PROLOGUE + b"\x66\xb9" + n + bytes.fromhex("8cd88ed88ec0664975f6f4")
    else:
        raise ValueError(name)
    return code + bytes(510 - len(code)) + b"\x55\xaa"


def micro_bench(name: str, *, reference: float | None = None,
                loops: int | None = None) -> BenchResult:
    """One figure for a MICRO guest, as a ratio to bare Unicorn (on the same guest when it can
    run it alone, else `reference`, the previous image's figure)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="bootdbg-micro-") as tmp:
        path = Path(tmp) / f"{name}.img"
        if name == "tf-real":
            path.write_bytes(micro_image(name, loops or 500_000))
            res = bench_image(path, configs=("no watchers",), reference=reference)
            res.figures[0].config = "TF=1, real mode"
        else:
            path.write_bytes(micro_image(name, loops or 4_000_000))
            res = bench_image(path, configs=("catch mode, vm86",), reference=reference)
    res.image = name
    return res
