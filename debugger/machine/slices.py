"""Fast slices: long runs counted per translation block by the native block hook
(`blockcount.py`) instead of Unicorn's per-instruction count hook, with the I/O they meet handled
in place (`portio.py`) and a slice run again exactly when it met something a block count cannot
place.  A part of `Machine` (mixed into it in pc.py), in a file of its own; it sees the rest of
the machine as `self`.
"""
from __future__ import annotations

from typing import Any

from unicorn import UcError

from debugger.cpustate import Activity
from debugger.machine import holes
from debugger.machine.results import RunResult, Stop
from debugger.machine.traps import Pending

__all__ = ["FastSlices", "FAST_MIN", "REDO", "UNSET"]

FAST_MIN = 1 << 16       # slices this long (after one as long) are counted by blocks
UNSET: Any = object()    # no deadline given
REDO: Any = object()     # the slice met something a block count cannot place: run it exactly
REDO_TRIES = 3           # a slice is redone fast at most this many times, then exactly


class FastSlices:
    """Block-counted slices of `debugger.machine.pc.Machine`."""

    def _fast_allowed(self, n: int) -> bool:
        return self.icount >= self._fast_resume_at and self._fast_allowed_later(n)

    def _fast_allowed_later(self, n: int) -> bool:
        """`_fast_allowed` but for the back-off (whose end is `_fast_resume_at`)."""
        return (n >= FAST_MIN and self._fast_on and self._blocks.available
                and not self.slice_listeners and not self.slice_end_checks
                and len(self.uc._callbacks) == self._own_hooks)

    def _run_fast(self, n: int, deadline: Any, tries: int = 0) -> RunResult | None | object:
        """One slice counted by blocks; REDO (after restoring its start) if it met something a
        block count cannot place.  What came before that runs fast again, `REDO_TRIES` times
        at most: a redo that meets something irregular again sooner ends exact."""
        cp = self.checkpoint()
        self._fast_irregular = 0
        self._begin_slice(n)
        self._prepare_start(counted=False)
        self._blocks.start(n)
        err: UcError | None = None
        try:
            self.uc.emu_start(self.cpu.rip, 0, 0, 0)     # no count hook (Unicorn drops it)
        except UcError as exc:
            err = exc
        finally:
            self._hot.disarm()
        done, irregular, partial = self._blocks.stop(
            last_not_run=self._irqwait.armed and self._irqwait.fired)
        self._tbs_uncounted = True
        p = self._pending
        # (INTO does not end its block: the count is the whole block's, so it runs again)
        regular = p is None or p.kind in ("bios", "sysenter", "syscall") or (
            p.kind == "intr" and p.is_int and p.vector != 4)
        if irregular or self._fast_irregular or err is not None or not regular:
            # Everything before the block that held it was regular: that part runs fast again
            # (the same blocks, deterministically), the rest of the slice with the count hook.
            # (4: stopped before a block Unicorn runs differently from the CPU, exactfix.py)
            good = done if irregular in (1, 4) else done - self._blocks.last
            self._blocks.take_special()
            self.restore(cp)
            self._back_off(good)
            self.fast_redone += 1
            if good >= FAST_MIN and good < n and tries < REDO_TRIES:
                return self._run_fast(good, deadline, tries + 1)
            return REDO
        self.fast_slices += 1
        if self.eng.halted and self._pc() in self._exits_set:
            # A breakpoint inside a block: Unicorn counted its stop there as an instruction.
            start, size = self._blocks.last_block
            try:
                code = self.mem.read_linear(start, size)
            except Exception:
                code = b""
            if code and self._blocks.exit_counted(code, self.cpu.where()[3]):
                done -= 1
        if done < (FAST_MIN // 16 if self.memsnap.native else FAST_MIN) and not partial:
            # Ended early (a BIOS call, HLT, a breakpoint): its checkpoint was not worth it;
            # code that stops this often runs exact for a while (growing while it goes on).
            # (A page-journal checkpoint costs less: only slices far shorter count as early.)
            self._back_off(done)
        else:
            self._fast_backoff = FAST_MIN
        n = min(n, self._blocks.limit)     # (lowered when an I/O moved a device event)
        if partial and done < n and not self.eng.halted:
            # The slice ends inside the next block: its first instructions, counted exactly.
            self.icount += done
            self.clock.icount = self._clock_base + done     # (I/O in the slice synced it)
            rest = n - done
            self._begin_slice(rest)
            self._stop_count = None
            done = self._run_counted(rest)
            self._special = self._blocks.take_special()     # (stopped before one: exactfix.py)
            err = self._start_error
        return self._end_slice(done, err, deadline)

    def _run_task_switch(self, deadline: Any) -> RunResult | None:
        """The instruction at CS:IP switches tasks (`taskinsn.py`): one instruction, done by
        the machine instead of the engine (after the slice's bookkeeping, like SYSENTER)."""
        self._blocks.allow(None)
        self._begin_slice(1)
        for fn in self.slice_listeners:
            fn(self.icount)
        self._pending = Pending("task")
        return self._end_slice(1, None, deadline)

    def _back_off(self, ran: int) -> None:
        """No fast slice for a while after this one's first `ran` instructions (doubling)."""
        self._fast_resume_at = self.icount + ran + self._fast_backoff
        self._fast_backoff = min(self._fast_backoff * 2, 1 << 26)

    def _fast_refuse(self) -> int:
        """An instruction a block count cannot place (I/O, RDTSC) in a fast slice: stop; the
        slice is run again exactly, so nothing of it may happen now."""
        self._fast_irregular = 3
        self.uc.emu_stop()
        return 0

    def _end_slice(self, done: int, err: UcError | None, deadline: Any) -> RunResult | None:
        self._flush_native()
        if self._pending is not None and self._pending.kind == "bios":
            done -= 1               # a BIOS stub's trap is not a guest instruction
        self.icount += done
        self.clock.icount = self._clock_base + done
        if deadline is UNSET or self._device_epoch != self._deadline_key[0]:
            deadline = self._next_deadline()
        if deadline is not None and self.clock.icount >= deadline:
            self.bus.tick(self.clock.icount)
            self._device_epoch += 1
        for check in self.slice_end_checks:
            res = check()
            if res is not None:
                return res
        p = self._pending
        if p is not None:
            return self._handle_pending(p)
        if err is not None:
            return holes.fetch_outside_ram(self, err) or self._result(Stop.UNMAPPED if "UNMAPPED" in str(err) else Stop.UNSUPPORTED,
                                f"emulation error at {self._pc():#x}: {err}")
        if self.eng.halted:
            # An exit stops the engine like HLT does; only a real HLT makes the CPU wait.
            self.eng.clear_halted()
            if self._pc() not in self._exits_set:
                self.cpu.activity = Activity.HLT
                return self._check_event_filter("hlt", {})
            return None
        return None
