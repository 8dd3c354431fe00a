"""The context shown at every stop (pwndbg-style): a view of the session, rendered by panes.

`view_of(session)` collects everything the panes need (state, previous state, checker verdict,
code around CS:EIP, stack bytes, latest events) into a plain `ContextView`; `render_context(view)`
renders it with the registered panes (`debugger.ui.panes`) as one rich renderable.  The panes are
pure functions of the view, so the context is tested without a machine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.text import Text

from debugger.cpustate import CpuState, Mode
from debugger.disasm import Insn
from debugger.ui.verdicts import violations_by_register

if TYPE_CHECKING:
    from debugger.engine.session import Session

__all__ = ["ContextView", "view_of", "render_context", "violations_by_register",
           "code_around", "DEFAULT_PANES"]

DEFAULT_PANES = ("mode", "regs", "segments", "control", "code", "stack", "events")


@dataclass(frozen=True)
class ContextView:
    state: CpuState
    previous: CpuState | None = None
    verdict: Any = None                 # debugger.checks.Verdict, or None
    verdict_error: str = ""             # why there is no verdict
    profile: str = ""
    icount: int = 0
    code: Sequence[Insn] = ()           # instructions around CS:EIP
    breakpoints: frozenset[int] = frozenset()   # linear addresses of enabled breakpoints
    stack: bytes = b""                  # bytes at SS.base + SP
    events: Sequence[Any] = ()          # latest machine events (newest last)
    options: dict[str, int] = field(default_factory=dict)
    symbols: Any = None                 # the session's SymbolTable (names in the code pane)


def code_around(session: "Session", pc: int, bits: int, before: int, after: int
                ) -> list[Insn]:
    """Instructions before and after `pc`: the backward part is found by decoding from earlier
    start points and keeping the one that lands exactly on `pc` with the most instructions."""
    from debugger.disasm import disassemble

    forward = session.disassemble(pc, after + 1, bits)
    best: list[Insn] = []
    if before > 0:
        for back in range(min(before * 7, 45), 0, -1):
            start = pc - back
            if start < 0 or (bits != 64 and start < session.state().cs.base):
                continue
            try:
                code = session.read_memory(start, back)
            except Exception:
                continue
            ins = disassemble(code, start, bits)
            if ins and ins[-1].address + ins[-1].size == pc and all(
                    i.mnemonic != "(bad)" for i in ins):
                if len(ins) >= before:
                    best = ins[-before:]
                    break
                if len(ins) > len(best):
                    best = ins
    return best + forward


def view_of(session: "Session", *, before: int = 3, after: int = 7, stack_slots: int = 8,
            events: int = 5) -> ContextView:
    st = session.state()
    verdict, err = None, ""
    try:
        verdict = session.check()
    except Exception as exc:      # the checker is optional for the context: say why it is absent
        err = str(exc) or exc.__class__.__name__
    from debugger.engine.points import Breakpoint

    bps = frozenset(b.linear for b in session.points.active(Breakpoint) if not b.physical)
    code = code_around(session, st.pc, st.bits, before, after)
    width = _stack_width(st)
    try:
        stack = session.read_memory(st.sp_linear, width * stack_slots)
    except Exception:
        stack = b""
    try:
        evs = session.machine.events.last(events) if events else []
    except Exception:
        evs = []
    return ContextView(state=st, previous=session.previous_state, verdict=verdict,
                       verdict_error=err, profile=session.profile, icount=session.icount,
                       code=code, breakpoints=bps, stack=stack, events=evs,
                       options={"stack_slots": stack_slots},
                       symbols=getattr(session, "symbols", None) or None)


def _stack_width(st: CpuState) -> int:
    if st.mode is Mode.LONG:
        return 8
    return 4 if st.ss.db else 2


def render_context(view: ContextView, width: int = 100,
                   panes: Iterable[str] | None = None,
                   height: int | None = None) -> RenderableType:
    """The panes named (default: DEFAULT_PANES, then every other registered pane -- those of
    loaded plugins -- in their order).  With `height`, at most that many lines: the least useful
    parts are cut first (`debugger.ui.context_fit`)."""
    from debugger.ui.panes import all_panes, get_pane

    if panes is None:
        panes = list(DEFAULT_PANES) + [p.name for p in all_panes()
                                       if p.name not in DEFAULT_PANES]

    def render(name: str, v: ContextView) -> list[RenderableType]:
        p = get_pane(name)
        body = p.fn(v, width)
        if body is None:
            return []
        if p.title:
            return [Rule(Text(p.title, style="pane.title"), style="pane.rule",
                         characters="-", align="left"), body]
        return [body]

    chosen = [(name, view) for name in panes]
    if height is not None:
        from debugger.ui.context_fit import fit

        chosen = fit(view, width, height, [name for name, _ in chosen], render)
    parts: list[RenderableType] = []
    for name, v in chosen:
        parts.extend(render(name, v))
    return Group(*parts)
