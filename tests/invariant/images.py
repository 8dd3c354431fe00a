"""What each demo image does, so the examples arm points where something happens: the linear
address executed at every icount, addresses it writes, ports it uses, the vectors it raises.

Recorded once per process by a plain run with Unicorn hooks (only to *choose* inputs; no
expected answer comes from here)."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from unicorn import UC_HOOK_CODE, UC_HOOK_MEM_WRITE

from tests.conftest import assemble, demo_session
from tests.invariant import hlt_guest, paging_guest, rep_guest

__all__ = ["DEMOS", "Profile", "profile", "session_for"]

TASKGATE = "taskgate"      # images/conformance/taskgate.asm: task switches (IDT task gates, IRET)
TASKJMP = "taskjmp"        # images/conformance/taskjmp.asm: task switches by JMP/CALL/IRET, 16-bit TSSs
_CONFORMANCE = (TASKGATE, TASKJMP)
DEMOS = ("hello", "pmode", "unreal", "vm86", "longmode", "exceptions", "int13hook-hd", "timers",
         paging_guest.NAME, TASKGATE, TASKJMP, hlt_guest.NAME)


def session_for(name: str, **kw):   # noqa: ANN201
    """A Session on a demo image, or on a guest built here from source (`paging_guest`, the
    `taskgate` and `taskjmp` conformance images, the REP guest)."""
    if name not in (paging_guest.NAME, *_CONFORMANCE, rep_guest.NAME, hlt_guest.NAME):
        return demo_session(name, **kw)
    from debugger.engine.session import Session
    from debugger.machine.disk import disk_from_bytes

    if name in _CONFORMANCE:
        from tests.conformance import runner
        from tests.conftest import nasm_available

        if not nasm_available():
            import pytest
            pytest.skip("nasm is not installed")
        data = runner.build(name).read_bytes()
    elif name == rep_guest.NAME:
        data = assemble(rep_guest.source())
    elif name == hlt_guest.NAME:
        data = assemble(hlt_guest.SOURCE)
    else:
        data = assemble(paging_guest.SOURCE)
    return Session(disks=[disk_from_bytes(data, f"{name}.img", boot=True)], **kw)


@dataclass
class Profile:
    name: str
    pcs: list[int] = field(default_factory=list)        # linear pc at each icount
    writes: list[int] = field(default_factory=list)     # written linear addresses (a sample)
    ports: list[int] = field(default_factory=list)
    vectors: dict[str, list[int]] = field(default_factory=dict)
    bios_ah: list[tuple[int, int]] = field(default_factory=list)
    phys: list[int] = field(default_factory=list)       # physical pc at each icount (if asked)

    @property
    def total(self) -> int:
        return len(self.pcs)


@lru_cache(maxsize=None)
def profile(name: str) -> Profile:
    s = session_for(name, native=False)
    m = s.machine
    remaps = name == paging_guest.NAME
    p = Profile(name)
    writes: dict[int, None] = {}
    ports: dict[int, None] = {}
    vecs: dict[str, dict[int, None]] = {"int": {}, "exception": {}, "irq": {}, "bios": {}}
    ahs: dict[tuple[int, int], None] = {}

    def code(uc, address, size, _ud):       # noqa: ANN001
        p.pcs.append(address)
        if remaps:
            p.phys.append(m.mem.translate(address))

    def write(uc, access, address, size, value, _ud):      # noqa: ANN001
        if len(writes) < 4000:
            writes.setdefault(address, None)

    def event(kind, details):               # noqa: ANN001
        v = details.get("vector")
        if kind in vecs and isinstance(v, int):
            vecs[kind].setdefault(v, None)
            if kind in ("bios", "int"):
                ahs.setdefault((v, (m.cpu.gpr(0) >> 8) & 0xFF), None)
        return False

    m.uc.hook_add(UC_HOOK_CODE, code)
    m.uc.hook_add(UC_HOOK_MEM_WRITE, write)
    m.uc.ctl_flush_tb()
    m.event_filter = event
    m.bus.watchers.append(lambda d, port, size, value: ports.setdefault(port, None))
    m.run(200_000)
    p.writes = sorted(writes) if not remaps else list(paging_guest.ADDRESSES)
    p.ports = sorted(ports)
    p.vectors = {k: sorted(v) for k, v in vecs.items()}
    p.bios_ah = sorted(ahs)
    return p
