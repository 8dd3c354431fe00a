"""The watchers' fast run: a chunk at engine speed under a checkpoint, and the exact stop it
becomes (mixed into `Watchers`, which it sees as `self`: m, s, exact, muted, step_once, _check,
_step_block, _sync_baseline, ...).

A chunk takes a checkpoint and runs; what stopped it (a detector hit at a block boundary, a
memory or I/O hook, an event, a block that must be stepped) is then turned into the exact stop:
by stepping the block (its first instructions run fast first), by checking a one-instruction
chunk where it stands, or by going back to the checkpoint and stepping to the instruction.
"""
from __future__ import annotations

import os
from typing import Any

from debugger.engine.blockscan import last_changer, leading_safe, starts_with
from debugger.engine.remap import mapping_key, raw_key
from debugger.engine.stops import StopEvent
from debugger.machine.cpu import decode_state
from debugger.machine.memory import MemoryError_, PageFault
from debugger.machine.pc import Stop
from debugger.machine.results import RunResult
from debugger.machine.storescan import (
    _PREFIXES, NONE, decode, last_insn, stores_abs, stores_before,
)

__all__ = ["FastRun"]

_FINAL = {Stop.HALTED, Stop.TRIPLE_FAULT, Stop.RESET, Stop.UNMAPPED, Stop.UNSUPPORTED,
          Stop.INTERRUPT, Stop.BOOT_FAILED}
_LOCALISE = object()       # (_last_instruction: not for it)
_SEG_NAMES = ("es", "cs", "ss", "ds", "fs", "gs")
# (for the differential test of the shortcut: every stop found by going back instead)
_NO_SHORTCUT = bool(os.environ.get("BOOTDBG_NO_STOP_SHORTCUT"))


class FastRun:
    m: Any
    s: Any

    def _log_only(self) -> bool:
        """The transition detector is armed for the activity log alone."""
        return self.log is not None and not (self.trans or self.exprs)

    def _stop_logging(self) -> None:
        """The log's budget for this run is used up: run at full speed from here."""
        assert self.log is not None
        self.log.pause(self.m.state())
        self._park_native()
        self.watch_transitions = False        # (the Python block hook returns at once)
        self._categories = frozenset()

    def run_chunk(self, n: int) -> StopEvent | None:
        m = self.m
        resume, self.s._resume_block = self.s._resume_block, None
        if resume is not None and self._categories and resume[2:] == (m.icount, m.mutations):
            # Continuing from a stop inside a block that was being stepped, before another
            # instruction of the kind that made it be stepped: a fast run would stop at once on
            # the rest of that block; step it exactly from here instead (exact steps find the
            # same stops), without a checkpoint.  Before anything else, the rest runs as a
            # block of its own (fast, up to its first such instruction: `_run_prefix`).
            address, size = resume[:2]
            pc = m._pc()
            if address <= pc < address + size and self._steps_first(pc, address + size - pc):
                self._limit = m.icount + n
                return self._step_block(address, size)
        if self.watch_transitions and self._log_only() and self.log is not None \
                and not self.log.charge_left():
            self._stop_logging()
        need_cp = bool(self.mems or self.ios or self.io_catches or self.watch_transitions
                       or self.events)
        cp = m.checkpoint() if need_cp else None
        cp_icount = m.icount
        self._cp_asked = m._bios_asked        # (a BIOS call already stopped at: see _localise)
        self._det_hit = None
        self._mem_hits.clear()
        self._io_hits.clear()
        self._event = None
        self._det_prev = m.icount
        if self._native is not None:
            self._native.sync(m.icount)
        self._suspect = None
        self._limit = m.icount + n         # localising never runs past the chunk's budget
        self._refresh()
        at = self._before_chunk() if cp is not None and self.watch_transitions else None
        r = self._run_following(n)
        block: tuple[int, int, int] | None = None   # (a block's first instructions were run)
        while True:
            if self._native is not None:
                self._det_hit = self._native.hit
                self._det_prev = self._native.d.prev
                self._suspect = self._native.suspect
            m.bus.stop_requested = False
            if block is not None:
                if r.reason == Stop.BUDGET and m.icount == block[2] and self._quiet():
                    return self._step_block(block[0], block[1])
                break             # (whatever ended it: as at the end of any run)
            if self._log_only() and r.reason == Stop.EVENT and \
                    r.details.get("event") in ("suspect", "detector"):
                self.log.charge()                               # type: ignore[union-attr]
            if r.reason == Stop.EVENT and r.details.get("event") == "suspect" and self._suspect:
                p = self._run_prefix(*self._suspect)
                if p is None:
                    return self._step_block(*self._suspect)
                block, r = p
                continue
            break
        if r.reason == Stop.EVENT and r.details.get("event") == "classified":
            return None
        if r.reason == Stop.EVENT and r.details.get("event") in ("remap", "pb-alias") and not (
                self.watch_transitions and self._sigfn(m.eng) != self._sig):
            return self._check_breakpoint(r)   # (stopped before a block; re-armed next)
        if r.reason == Stop.EVENT and r.details.get("event") in ("watch", "detector"):
            assert cp is not None
            if r.details["event"] == "detector" and self._det_hit is not None:
                start, upto = self._det_hit
                if at is not None and m.icount == upto:
                    ev = self._last_instruction(cp, at, r, start, upto, False)
                    if ev is not _LOCALISE:
                        return ev
            else:
                start = upto = self._hit_icount - 1
            return self._localise(cp, start, upto, r)
        if self.watch_transitions and self._sigfn(m.eng) != self._sig:
            # Changed since the last block boundary the detector saw (or by the machine at
            # rest): find the exact instruction or delivery.
            assert cp is not None
            if at is not None and r.reason == Stop.EVENT and self._event is not None:
                ev = self._last_instruction(cp, at, r, self._det_prev, m.icount, True)
                if ev is not _LOCALISE:
                    return ev
            return self._localise(cp, self._det_prev, m.icount, r)
        if r.reason in _FINAL:
            return self._runner.machine_stop(self.s, r, None)
        if r.reason == Stop.EVENT and self._event is not None:
            if not self._event_catches(*self._event):
                return None
            # A catchpoint's event: step its instruction again exactly, so the stop names it
            # (and its condition and ignore count are seen once, there).
            assert cp is not None
            return self._localise(cp, max(cp_icount, m.icount - 1), m.icount, r)
        if r.reason in (Stop.EXIT, Stop.BUDGET):
            # (a budget can end where a breakpoint is: the next run would start there and
            # execute it, so it is checked now, as after an exact step)
            return self._check_breakpoint(r)
        return None

    def _steps_first(self, address: int, size: int) -> bool:
        """The instruction at `address` is one that a block holding it is stepped for."""
        m = self.m
        try:
            code = m.mem.read_linear(address, size)
        except (PageFault, MemoryError_):
            return True
        key = (code, address, self._bits_now(), self._categories, "first")
        first = self.s._block_prefix.get(key)
        if first is None:
            if len(self.s._block_prefix) >= 1 << 14:
                self.s._block_prefix.clear()
            first = self.s._block_prefix[key] = starts_with(
                lambda a, k: code[a - address:a - address + k], address, size, key[2],
                self._categories)
        return first

    def _run_prefix(self, address: int, size: int) -> Any:
        """The detector stopped before a block that must be stepped: run its first instructions,
        up to the first that can change watched state inside the block, as part of the chunk
        (fast, under its checkpoint: what they do is seen as anywhere else in a fast run), so
        that only the rest is stepped.  None when not worth it or not for this run."""
        m, det = self.m, self._native
        if det is None or self.log is not None or m._pc() != address:
            return None
        try:
            code = m.mem.read_linear(address, size)
        except (PageFault, MemoryError_):
            return None
        bits = self._bits_now()
        key = (code, address, bits, self._categories)      # (by content: code can change)
        k = self.s._block_prefix.get(key)
        if k is None:
            if len(self.s._block_prefix) >= 1 << 14:
                self.s._block_prefix.clear()
            k = self.s._block_prefix[key] = leading_safe(
                lambda a, n: code[a - address:a - address + n], address, size, bits,
                self._categories)
        if k < 1 or m.icount + k > self._limit:
            return None
        target = m.icount + k
        d = det.d
        d.hit = d.hit_kind = 0
        d.prev = m.icount
        d.armed = 1
        d.suspects_on = 0             # (this block, from its start: not again)
        d.last_size = 0
        self._det_hit = self._suspect = None
        self._det_prev = m.icount
        try:
            return (address, size, target), self._run_following(k)
        finally:
            d.suspects_on = 1

    def _quiet(self) -> bool:
        """Nothing seen in the last stretch of a fast run (no hit, event or state change)."""
        return not (self._mem_hits or self._io_hits or self._event is not None
                    or self._det_hit is not None or self._sigfn(self.m.eng) != self._sig)

    def _before_chunk(self) -> tuple[Any, ...]:
        """What `_last_instruction` needs of the moment a chunk starts (a few microseconds)."""
        m = self.m
        return (m.cpu.raw_state(), m.events.total, mapping_key(raw_key(m.eng)),
                self._sigfn(m.eng), m._pc(), m.icount)

    def _last_instruction(self, cp: Any, at: tuple[Any, ...], r: Any, start: int, upto: int,
                          delivered: bool) -> Any:
        """The watched state changed in the block that ran from icount `start` to `upto` (the
        detector saw it where the next block starts; or, `delivered`, the block's last
        instruction raised an INT or exception, delivered at its end).  When that block ran
        whole and none of its instructions but the last can change the watched state, the
        change is the last one's and the machine is where going back to `cp` and stepping to
        that instruction exactly would put it: check it there, as that step would, without
        going back -- when nothing else happened in the chunk (no other delivery, BIOS call, I/O
        or memory hit, the mapping unchanged, the block's bytes not written since `cp`, so the
        bytes read now are the ones that ran).  `_LOCALISE` otherwise."""
        m, det = self.m, self._native
        raw, events, mapping, sig0, pc0, icount0 = at
        block = det.last_block if det is not None else None
        if block is None or self.log is not None or self.exprs or self.mems \
                or self._remap.pbs or self._mem_hits or self._io_hits or sig0 != self._sig \
                or mapping_key(raw_key(m.eng)) != mapping or _NO_SHORTCUT:
            return _LOCALISE
        if delivered:
            # (an exception is in the event log, an INT is not; a fault while delivering either
            # would be there too)
            kind = self._event[0]
            if kind not in ("int", "exception") or \
                    m.events.total != events + (kind == "exception"):
                return _LOCALISE
        elif self._event is not None or m.events.total != events:
            return _LOCALISE
        address, size, bits = block
        try:
            code = m.mem.read_linear(address, size)
        except (PageFault, MemoryError_):
            return _LOCALISE
        key = (code, address, bits)
        found = self.s._last_changer.get(key, _LOCALISE)
        if found is _LOCALISE:
            if len(self.s._last_changer) >= 1 << 14:
                self.s._last_changer.clear()
            found = self.s._last_changer[key] = last_changer(
                lambda a, n: code[a - address:a - address + n], address, size, bits)
        if found is None or found[0] != upto - start:
            return _LOCALISE
        pc = found[1]
        written = m.memsnap.pages_since(cp.ident)
        if written is None:
            return _LOCALISE
        if self._state is None:
            # (the baseline: its watched fields, segments included, are as the block began --
            # the detector compared them at every block start -- and none of the block's
            # instructions before its last can change them)
            self._state = decode_state(raw)
        try:
            insn = m.mem.read_linear(pc, 16)
            if written and {m.mem.translate(a) >> 12 for a in
                            (address, address + size - 1, pc + 15)} & written \
                    and not self._kept_its_bytes(code, address, bits, pc,
                                                 delivered and self._event[0] == "int"):
                return _LOCALISE
        except (PageFault, MemoryError_):
            return _LOCALISE
        if insn[:1] == b"\xcc" and m.bios.vector_at(pc) is not None:
            return _LOCALISE
        if m.bios.vector_at(pc - 1) is not None:
            # A BIOS stub's IRET: with its service one step from the stub, which is where the
            # exact steps begin when the chunk did (the call stopped there first: the 'bios'
            # event); they name the IRET with the 15 bytes after the stub.  Else: go back.
            if not (pc0 == pc - 1 and start == icount0):
                return _LOCALISE
            insn = insn[:15]
        self._bits = bits
        self.exact = True
        try:
            ev = self._check(r if delivered else RunResult(
                Stop.BUDGET, "instruction budget of 1 used up", m.icount), pc, insn, {})
        finally:
            self.exact = False
        if ev is not None:
            return ev
        self._sync_baseline()
        return None

    def _kept_its_bytes(self, code: bytes, address: int, bits: int, pc: int,
                        int_n: bool) -> bool:
        """RAM on the block's pages was written in the chunk: are its bytes (and the 16 read at
        `pc`) still those it ran with?  Yes when nothing it did stored there -- none of its
        instructions stores (or does port I/O; the last, when `int_n`, is an INT whose only
        stores are its delivery's), and what a delivery at its end pushed, at SS:SP now, is
        elsewhere (paging off, 16/32-bit code: `storescan` decodes those)."""
        m = self.m
        if bits == 64 or m.cpu.cr(0) & (1 << 31):
            return False
        code32 = bits == 32
        last = last_insn(code, code32)
        if last is None:
            return False
        lo, hi = min(address, pc), max(address + len(code), pc + 16)
        if stores_before(code, code32):
            # (only to [disp], through a data segment the block's last instruction does not
            # load, and away from its bytes)
            found = stores_abs(code, code32)
            if found is None or int_n or any(seg in (1, 2) for seg, _off in found):
                return False
            before = self._state        # (the segments as the block ran: see the caller)
            for seg, off in found:
                if not code32 and off > 0xFFF0:
                    return False        # (a store that may wrap at 64 KiB)
                at = getattr(before, _SEG_NAMES[seg]).base + off
                if at < hi and lo < at + 16:
                    return False
        if int_n:
            op = code[last:].lstrip(bytes(_PREFIXES))[:1]
            if op not in (b"\xcd", b"\xcc", b"\xce"):
                return False
        elif decode(code, last, code32)[1] != NONE:
            return False
        ss = m.cpu.seg("ss")
        sp = ss.base + (m.cpu.gpr(4) & (0xFFFFFFFF if ss.db else 0xFFFF))
        return sp + 64 <= lo or sp >= hi

    def _localise(self, cp: Any, start: int, upto: int, r: Any) -> StopEvent | None:
        """Go back to `cp`, re-execute to icount `start`, then step exactly past `upto`."""
        m = self.m
        m.restore(cp)
        m._bios_asked = self._cp_asked        # as at the checkpoint: not a second stop there
        self.muted = True
        # (one instruction short of `start`: a run that ends with an instruction also makes the
        # delivery of an interrupt that became due after it, and a change detected at `start`
        # can be that delivery -- the exact steps must see it)
        target = max(cp.icount, start - 1)
        try:
            while m.icount < target:
                r = m.run(target - m.icount)
                if r.reason in _FINAL:
                    return self._runner.machine_stop(self.s, r, None)
        finally:
            self.muted = False
        self._sync_baseline()
        limit = min(upto + 4, self._limit - 1)
        self.exact = True
        try:
            while m.icount <= limit:
                ev = self.step_once()
                if ev is not None:
                    return ev
        finally:
            self.exact = False
        self._sync_baseline()
        if r.reason in _FINAL:
            return self._runner.machine_stop(self.s, r, None)
        return None
