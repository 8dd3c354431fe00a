"""Recording the per-instruction trace (`record --full`) into TRACE chunks, streaming.

`FullRecorder(machine, writer)` hooks the machine: a code hook and a memory-write hook on the
engine (native, `ftnative`, or the pure-Python `PyHooks` with the same output), the machine's
slice listeners (a run-loop boundary: the state after the last instruction is final there) and
its host-write hooks (interrupt delivery, BIOS services), and its service listeners (the state before a BIOS
service, which belongs to the next instruction).  Records collect in the encoder's
buffer; the recorder drains it between run slices, cuts it into chunks of CHUNK_INSNS
instructions (each with a keyframe), and a worker thread writes them in order (file writes
release the GIL, so this overlaps with emulation).  The chunks are written as they are unless
`compress` (record --full --compress): zlib takes more CPU time than the emulation saves in
bytes written, and the two threads share the machine's cores, so compressing slows recording
(random register values compress slowly and little; the demo images about 5 times).  Memory
stays bounded: at most `MAX_QUEUE` chunks wait to be written (then emulation waits).
"""
from __future__ import annotations

import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from debugger.trace import format as F
from debugger.trace import fulltrace as FT

__all__ = ["FullRecorder", "PyHooks", "native_available"]

LEVEL = 1                  # zlib level: register values compress little; speed matters more
MAX_QUEUE = 32             # chunks queued for writing (then emulation waits)
DRAIN_AT = 1 << 20
CHUNK_CAP = 1 << 20        # chunk buffers are recycled at this size (they grow for larger chunks)


def native_available() -> bool:
    from debugger.trace import ftnative

    return ftnative.available()


class PyHooks(FT.PyEncoder):
    """The pure-Python encoder driven by Python Unicorn hooks (slow; the reference)."""

    def __init__(self, machine: Any, chunk_insns: int = FT.CHUNK_INSNS) -> None:
        import ctypes

        from unicorn import UC_HOOK_CODE, UC_HOOK_MEM_WRITE

        super().__init__(machine.eng, chunk_insns)
        self.m = machine
        self.base = 0
        # Re-runs after a store into the running block (see _fulltrace.c, "Counting").
        where = machine.restarts_address()
        self._restarts = ctypes.c_int64.from_address(where) if where else ctypes.c_int64(0)
        self._restarts_seen = self._restarts_base = self._restarts.value
        self._mark = (0, 0, 0)
        uc = machine.uc
        self._handles = [uc.hook_add(UC_HOOK_CODE, self._code),
                         uc.hook_add(UC_HOOK_MEM_WRITE, self._write)]
        uc.ctl_flush_tb()

    def set_base(self, icount: int) -> None:
        self.base = icount
        self._restarts_base = self._restarts.value

    def _check_restart(self) -> None:
        again = self._restarts.value
        if again != self._restarts_seen:
            # QEMU undid the last instruction and runs it again: its store was not made.
            self._restarts_seen = again
            pos, count, waddr = self._mark
            if self.tracking and pos <= len(self.wbuf):
                del self.wbuf[pos:]
                self.wcount, self.last_waddr = count, waddr

    def _mark_writes(self) -> None:
        self._mark = (len(self.wbuf), self.wcount, self.last_waddr)

    def observe(self, done: int, in_exec: bool = False) -> None:
        if not in_exec:               # (a run-loop boundary)
            self._check_restart()
        super().observe(done, in_exec)
        if not in_exec:
            self._mark_writes()

    def _code(self, uc: Any, address: int, size: int, _ud: Any) -> None:
        self._check_restart()
        again = self._restarts_seen - self._restarts_base
        super().observe(self.base + self.eng.emu_counter - 1 - again, True)
        self._mark_writes()

    def _write(self, uc: Any, access: int, address: int, size: int, value: int,
               _ud: Any) -> None:
        # (Unicorn passes the physical address: after paging and the A20 mask.)
        if self.tracking and 0 < size <= 8:
            data = (value & ((1 << 64) - 1)).to_bytes(8, "little")[:size]
            rom = getattr(self.m, "rom", None)
            if rom is None:
                self.add_write(address, data)
                return
            for phys, chunk in rom.pieces(address, data):   # (dropped ROM bytes: no write)
                self.add_write(phys, chunk)

    @property
    def pending(self) -> int:
        return len(self.buf)

    drain_at = DRAIN_AT

    def remove(self) -> None:
        for h in self._handles:      # (leaves the guest as it was: machine/untouched.py)
            self.m.uc.hook_del(h)
        self._handles = []
        self.m.uc.ctl_flush_tb()


class FullRecorder:
    def __init__(self, machine: Any, writer: Any, *, native: bool | None = None,
                 chunk_insns: int = FT.CHUNK_INSNS, level: int = LEVEL,
                 buf_size: int | None = None, compress: bool = False) -> None:
        self.m = machine
        self.w = writer
        self.level = level
        if native is None:
            native = native_available()
        if native:
            from debugger.trace.ftnative import NativeEncoder

            self.enc: Any = NativeEncoder(machine, chunk_insns, **(
                {"buf_size": buf_size} if buf_size else {}))
        else:
            self.enc = PyHooks(machine, chunk_insns)
        self.native = bool(native)
        # The chunk being filled: room for its head, then the keyframe and the records; in a
        # buffer used again once the writer is done with it (a fresh one per chunk cost as
        # much as its copy: the kernel maps and clears new pages).
        self._free: list[bytearray] = []
        self._chunk = bytearray(CHUNK_CAP)
        self._fill = FT.CHUNK_HEAD.size
        self._chunk_icount: int | None = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="bdt-write")
        self._jobs: deque[Future[None]] = deque()
        self.chunks = 0
        self.compress = compress
        self.raw_bytes = 0
        self.instructions = 0
        self.closed = False
        machine.slice_listeners.append(self._slice)
        machine.service_listeners.append(self._service)
        machine.slice_end_checks.append(self._slice_end)
        machine.mem.write_hooks.append(self._host_write)
        self.enc.activity = int(machine.cpu.activity)
        self.enc.start(machine.icount)

    # -- machine hooks ------------------------------------------------------------------------------
    def _slice(self, icount: int) -> None:
        enc = self.enc
        enc.activity = int(self.m.cpu.activity)
        enc.observe(icount, False)
        enc.set_base(icount)

    def _service(self, icount: int) -> None:
        self.enc.activity = int(self.m.cpu.activity)
        self.enc.observe(icount, False)

    def _slice_end(self) -> None:
        classify = getattr(self.enc, "classify_pending", None)
        if classify is not None:      # (the native hook stopped at a block seen the first time)
            classify()
        # (The native hook stops the engine once its buffer passes `drain_at`: drain it then,
        # or the next slice would stop again at once.)
        if self.enc.pending >= min(DRAIN_AT, self.enc.drain_at):
            self._drain()
        return None

    def _host_write(self, phys: int, n: int) -> None:
        self.enc.add_write(phys, self.m.mem.read_phys(phys, n))

    # -- state changes from outside ----------------------------------------------------------------
    def edited(self, icount: int) -> None:
        """A user edit at `icount`: the trace goes on from the edited state (a new chunk)."""
        self.sync()
        self.enc.rearm(icount)

    def sync(self) -> None:
        """The machine is at rest: record the instruction that led here, if not yet done."""
        self.enc.activity = int(self.m.cpu.activity)
        self.enc.observe(self.m.icount, False)

    # -- chunks -------------------------------------------------------------------------------------
    def _drain(self) -> None:
        data, marks = self.enc.take()
        view = memoryview(data)
        pos = 0
        for off, icount, count in marks:
            self._append(view[pos:off])
            pos = off
            if self._chunk_icount is not None:
                self._finish(count)
            self._chunk_icount = icount
        self._append(view[pos:])

    def _append(self, data: memoryview) -> None:
        end = self._fill + len(data)
        if end > len(self._chunk):
            self._chunk += bytes(end - len(self._chunk))
        self._chunk[self._fill:end] = data
        self._fill = end

    def _finish(self, count: int) -> None:
        assert self._chunk_icount is not None
        payload, size = self._chunk, self._fill   # (its first bytes were left for the head)
        FT.CHUNK_HEAD.pack_into(payload, 0, self._chunk_icount, count)
        self._chunk = self._free.pop() if self._free else bytearray(CHUNK_CAP)
        self._fill = FT.CHUNK_HEAD.size
        self.chunks += 1
        self.raw_bytes += size
        self.instructions += count
        # The worker (compresses and) writes, in order; the writer is locked against the
        # checkpoints this thread writes.
        while self._jobs and self._jobs[0].done():
            self._jobs.popleft().result()
        self._jobs.append(self._pool.submit(self._store, payload, size, self._chunk_icount,
                                            self.compress))
        while len(self._jobs) > MAX_QUEUE:
            self._jobs.popleft().result()

    def _store(self, buf: bytearray, size: int, icount: int, compress: bool) -> None:
        with memoryview(buf) as whole, whole[:size] as payload:
            if compress:
                self.w.chunk_compressed(F.TRACE, zlib.compress(payload, self.level), size,
                                        icount)
            else:
                self.w.chunk(F.TRACE, payload, icount, compress=False)
        if len(self._free) < MAX_QUEUE:
            self._free.append(buf)         # (list.append is atomic: the emulating thread pops)

    def close(self) -> dict[str, Any]:
        if self.closed:
            return self.stats()
        self.closed = True
        self.sync()
        m = self.m
        m.slice_listeners.remove(self._slice)
        m.service_listeners.remove(self._service)
        m.slice_end_checks.remove(self._slice_end)
        m.mem.write_hooks.remove(self._host_write)
        self._drain()
        count = self.enc.chunk_records
        if count or not self.chunks:
            self._finish(count)
        while self._jobs:
            self._jobs.popleft().result()
        self._pool.shutdown()
        self.enc.remove()
        return self.stats()

    def stats(self) -> dict[str, Any]:
        return {"instructions": self.instructions, "chunks": self.chunks,
                "compressed": self.compress,
                "raw_bytes": self.raw_bytes, "lost": self.enc.lost, "gaps": self.enc.gaps,
                "native": self.native}
