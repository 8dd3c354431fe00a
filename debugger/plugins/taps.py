"""Machine taps for plugin subscribers: interrupts, mode changes and memory accesses.

Each tap is installed on first use and removed with its last subscriber.  The engine re-executes
instructions when it localises a stop (it goes back to a checkpoint), so every tap passes each
happening to its subscribers once only (`OncePerIcount`, shared with the engine's activity log).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from unicorn import UC_HOOK_BLOCK, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_MEM_WRITE

from debugger.machine.events import OncePerIcount

if TYPE_CHECKING:
    from debugger.machine.pc import Machine

__all__ = ["Taps", "Interrupt", "ModeChange", "MemoryAccess"]


@dataclass(frozen=True)
class Interrupt:
    vector: int
    kind: str              # "int" (software), "irq" (external), "exception"
    error_code: int | None
    icount: int
    cs: int
    ip: int                # CS:IP at delivery (the return address for INT/IRQ)


@dataclass(frozen=True)
class ModeChange:
    old: str
    new: str
    icount: int
    linear: int            # where execution continues in the new mode


@dataclass(frozen=True)
class MemoryAccess:
    access: str            # "write" | "read"
    address: int           # as Unicorn reports it (physical without paging)
    size: int
    value: int
    pc: int                # linear address of the accessing instruction
    icount: int            # instructions retired including this one


class Taps:
    def __init__(self, machine: "Machine") -> None:
        self.m = machine
        self.interrupt_subs: list[Callable[[Interrupt], None]] = []
        self.mode_subs: list[Callable[[ModeChange], None]] = []
        self._int_listening = False
        self._int_once = OncePerIcount()
        self._block_hook: Any = None
        self._sig: bytes | None = None
        self._mode: str | None = None
        self._mode_high = -1

    # -- interrupts ----------------------------------------------------------------------------
    def add_interrupt(self, fn: Callable[[Interrupt], None]) -> Callable[[], None]:
        self.interrupt_subs.append(fn)
        if not self._int_listening:
            self._int_listening = True
            self.m.interrupt_listeners.append(self._on_interrupt)
        return lambda: self._drop(self.interrupt_subs, fn)

    def _on_interrupt(self, vector: int, kind: str, error_code: int | None, cs: int,
                      ip: int) -> None:
        m = self.m
        if self._int_once.first(m.icount, (vector, kind, cs, ip)):
            ev = Interrupt(vector, kind, error_code, m.icount, cs, ip)
            for sub in list(self.interrupt_subs):
                sub(ev)

    # -- mode changes --------------------------------------------------------------------------
    def add_mode(self, fn: Callable[[ModeChange], None]) -> Callable[[], None]:
        from debugger.engine.transitions import signature

        self.mode_subs.append(fn)
        if self._block_hook is None:
            m = self.m
            self._sig = signature(m.eng)
            self._mode = m.state().mode.value
            self._block_hook = m.uc.hook_add(UC_HOOK_BLOCK, self._on_block)
            m.uc.ctl_flush_tb()
        return lambda: self._drop(self.mode_subs, fn)

    def _on_block(self, uc: Any, address: int, size: int, _ud: Any) -> None:
        from debugger.engine.transitions import signature

        m = self.m
        sig = signature(m.eng)
        if sig == self._sig:
            return
        self._sig = sig
        mode = m.state().mode.value
        if mode == self._mode:
            return
        old, self._mode = self._mode, mode
        now = m.running_icount()
        if now <= self._mode_high:          # re-executed after going back to a checkpoint
            return
        self._mode_high = now
        ev = ModeChange(old or "?", mode, now, address)
        for sub in list(self.mode_subs):
            sub(ev)

    # -- basic blocks --------------------------------------------------------------------------
    def add_block(self, fn: Callable[[int, int, int], None]) -> Callable[[], None]:
        """`fn(linear, size, icount)` before each translated block the guest executes."""
        m = self.m
        last = [(-1, -1)]

        def cb(uc: Any, address: int, size: int, _ud: Any) -> None:
            now = m.running_icount()
            if now < last[0][0] or (now, address) == last[0]:
                return                      # re-executed after going back to a checkpoint
            last[0] = (now, address)
            fn(address, size, now)
        h = m.uc.hook_add(UC_HOOK_BLOCK, cb)
        m.uc.ctl_flush_tb()

        def undo() -> None:
            m.uc.hook_del(h)
            m.uc.ctl_flush_tb()
        return undo

    # -- memory --------------------------------------------------------------------------------
    def add_memory(self, first: int, last: int, access: str,
                   fn: Callable[[MemoryAccess], None]) -> Callable[[], None]:
        """Watch accesses to physical [first, last] without stopping the guest."""
        m = self.m
        once = OncePerIcount()

        def cb(uc: Any, acc: int, address: int, size: int, value: int, _ud: Any) -> None:
            now = m.running_icount()
            kind = "write" if acc == UC_MEM_WRITE else "read"
            if once.first(now, (kind, address, size)):
                fn(MemoryAccess(kind, address, size, value, m._pc(), now))
        hooks = []
        if access in ("write", "access"):
            hooks.append(m.uc.hook_add(UC_HOOK_MEM_WRITE, cb, None, first, last))
        if access in ("read", "access"):
            hooks.append(m.uc.hook_add(UC_HOOK_MEM_READ, cb, None, first, last))
        m.uc.ctl_flush_tb()

        def undo() -> None:
            for h in hooks:
                m.uc.hook_del(h)
            m.uc.ctl_flush_tb()
        return undo

    # -- removal -------------------------------------------------------------------------------
    def _drop(self, subs: list[Any], fn: Any) -> None:
        if fn in subs:
            subs.remove(fn)
        m = self.m
        if not self.interrupt_subs and self._int_listening:
            m.interrupt_listeners.remove(self._on_interrupt)
            self._int_listening = False
        if not self.mode_subs and self._block_hook is not None:
            m.uc.hook_del(self._block_hook)
            self._block_hook = None
            m.uc.ctl_flush_tb()
