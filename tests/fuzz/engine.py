"""The oracle and the campaign loop shared by every fuzz kind."""
from __future__ import annotations

import contextlib
import hashlib
import io
import random
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BAD_OUTPUT = ("Traceback (most recent call last)", "internal error")


class Hang(BaseException):
    """An input ran past its time limit (raised in the main thread by a timer signal: see
    time_limit -- the limit is CPU time)."""


@dataclass
class Finding:
    kind: str
    data: bytes
    what: str                  # "exception", "hang", "output", "server"
    detail: str

    @property
    def name(self) -> str:
        return hashlib.sha1(self.data).hexdigest()[:12]

    @property
    def key(self) -> str:
        """What makes two findings the same bug: where it was raised and its type."""
        import re

        files = re.findall(r'File "([^"]+)", line (\d+)', self.detail)
        last = self.detail.strip().splitlines()[-1] if self.detail.strip() else ""
        etype = re.match(r"\s*([\w.]+)(:|$)", last)
        internal = re.search(r"internal error: (\w+)", self.detail)
        return "|".join([self.what, ":".join(files[-1]) if files else "",
                         etype.group(1) if etype and files else "",
                         internal.group(1) if internal else ""])

    def save(self) -> Path:
        d = CORPUS / self.kind
        d.mkdir(parents=True, exist_ok=True)
        p = d / f"{self.what}-{self.name}"
        if not p.exists():
            p.write_bytes(self.data)
        return p


class Kind:
    """One input kind: `generate` an input (bytes), `run` it against bootdbg.

    `run` returns the text the user would have seen (checked for tracebacks); it raises only
    for findings.  `expected` lists the exception types that are one-line user errors."""

    name = "?"
    limit = 5.0                 # CPU seconds per input (time_limit)
    expected: tuple[type[BaseException], ...] = ()

    def setup(self) -> None:
        pass

    def reset(self) -> None:
        """Called after a hang or an unexpected exception: rebuild whatever may be broken."""
        self.setup()

    def generate(self, rng: random.Random) -> bytes:
        raise NotImplementedError

    def run(self, data: bytes) -> str:
        raise NotImplementedError

    def batch_check(self) -> str | None:
        """Called every `batch` inputs: a problem description, or None."""
        return None

    batch = 0


# An input that waits without using the CPU (a read that never returns) is caught by the wall
# clock at this many times its limit: generous, since a campaign under `nice -n 19` on a busy
# machine may get 1% of a CPU.
WALL_FACTOR = 100


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise Hang in the main thread once the input has used `seconds` of CPU time, or
    WALL_FACTOR times that of wall-clock time (no-op outside the main thread).

    CPU time, because the machine is shared: on a wall clock an input starved by other work
    would be called a hang.  Both timers fire again every 0.25 s until the input ends, so a
    Hang that Python swallows where it cannot raise (a ctypes callback, a finalizer: "Exception
    ignored in ...") is raised again at the next bytecode that can."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    done = [False]

    def fire(signum: int, frame: Any) -> None:
        if not done[0]:
            raise Hang("CPU time" if signum == signal.SIGPROF else "wall-clock time")
    old_prof = signal.signal(signal.SIGPROF, fire)
    old_alrm = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_PROF, seconds, 0.25)
    signal.setitimer(signal.ITIMER_REAL, seconds * WALL_FACTOR, 0.25)
    try:
        yield
    finally:
        while True:             # (a Hang raised in here, before `done`, only repeats this)
            try:
                done[0] = True
                signal.setitimer(signal.ITIMER_PROF, 0)
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGPROF, old_prof)
                signal.signal(signal.SIGALRM, old_alrm)
                break
            except Hang:
                continue


@contextlib.contextmanager
def captured():
    """stdout and stderr into one buffer (bootdbg's CLI prints to both)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        yield buf


def scratch(prefix: str) -> str:
    """A directory for one campaign's files, in memory (/dev/shm) where there is one, removed
    at exit: each input is written to a file and read back by the code under test."""
    import atexit
    import os
    import shutil
    import tempfile

    shm = "/dev/shm"
    where = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
    d = tempfile.mkdtemp(prefix=prefix, dir=where)
    atexit.register(shutil.rmtree, d, True)
    return d


_parser: Any = None


def cli_main(argv: list[str]) -> str:
    """`bootdbg ARGV` in-process (debugger.cli.main), stdout and stderr captured, standard input
    empty; its exit is not a finding.  The argparse tree is built once (half the cost of a
    small command) and reused: parsing does not change it, so every input meets the same
    parser a new process would build."""
    global _parser
    from debugger import cli

    if _parser is None:
        built = cli.build_parser()

        def _parser_once() -> Any:
            return built
        _parser = _parser_once
    real, cli.build_parser = cli.build_parser, _parser
    # (`session -x F` reads on after F, `check -` reads the dump: an empty standard input,
    # bytes underneath as a real one has)
    stdin, sys.stdin = sys.stdin, io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8")
    try:
        with captured() as buf:
            try:
                cli.main(argv)
            except SystemExit:
                pass
    finally:
        cli.build_parser = real
        sys.stdin = stdin
    return buf.getvalue()


def judge(kind: Kind, data: bytes) -> Finding | None:
    """Run one input under the oracle."""
    try:
        with time_limit(kind.limit):
            text = kind.run(data)
    except Hang as h:
        kind.reset()
        return Finding(kind.name, data, "hang", f"over {kind.limit} s of "
                       f"{h.args[0] if h.args else 'time'}")
    except kind.expected:
        return None
    except (Exception, RecursionError) as exc:  # noqa: BLE001 -- the oracle
        detail = "".join(traceback.format_exception(exc)[-6:])
        try:
            kind.reset()
        except Exception:                       # noqa: BLE001
            pass
        return Finding(kind.name, data, "exception", detail)
    if text and f"{Hang.__module__}.Hang" in text:     # raised, swallowed, and it went on
        i = text.index(f"{Hang.__module__}.Hang")
        return Finding(kind.name, data, "hang", f"over {kind.limit} s (a Hang was swallowed)\n"
                       + text[max(0, i - 600):i + 100])
    for bad in BAD_OUTPUT:
        if text and bad in text:
            i = text.index(bad)
            return Finding(kind.name, data, "output", text[max(0, i - 200):i + 600])
    return None


@dataclass
class Stats:
    kind: str
    inputs: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.inputs / self.seconds if self.seconds else 0.0


def campaign(kind: Kind, *, inputs: int | None = None, seconds: float | None = None,
             seed: int = 0, on_finding: Callable[[Finding], None] | None = None,
             save: bool = True, progress: Callable[[Stats], None] | None = None,
             stop: Callable[[], bool] | None = None, skip: int = 0,
             journal: str | None = None) -> Stats:
    """Generate and judge inputs until `inputs` are done, `seconds` have passed or `stop()`.

    `skip`: the first inputs of this seed are generated but not judged (a campaign resumed
    after its process died).  `journal`: a file that holds the input in hand (its index in the
    seed's sequence, 8 bytes, then the input), for the supervisor to save if the process dies."""
    rng = random.Random(seed)
    stats = Stats(kind.name)
    kind.setup()
    for _ in range(skip):
        kind.generate(rng)
    start = last = time.monotonic()
    seen: set[str] = set()
    while True:
        now = time.monotonic()
        if inputs is not None and stats.inputs >= inputs:
            break
        if seconds is not None and now - start >= seconds:
            break
        if stop is not None and stop():
            break
        data = kind.generate(rng)
        if journal is not None:
            with open(journal, "wb") as jf:
                jf.write((skip + stats.inputs).to_bytes(8, "little") + data)
        f = judge(kind, data)
        stats.inputs += 1
        if f is None and kind.batch and stats.inputs % kind.batch == 0:
            problem = kind.batch_check()
            if problem:
                f = Finding(kind.name, data, "server", problem)
                kind.reset()
        if f is not None:
            key = f.key
            if key not in seen:
                seen.add(key)
                stats.findings.append(f)
                if save:
                    f.save()
                if on_finding:
                    on_finding(f)
        if progress and now - last >= 10:
            last = now
            stats.seconds = now - start
            progress(stats)
    stats.seconds = time.monotonic() - start
    return stats
