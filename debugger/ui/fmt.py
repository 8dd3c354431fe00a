"""Small text formatters shared by panes, commands and reports (addresses, flag names, types)."""
from __future__ import annotations

from debugger.cpustate import CpuState, Mode, Segment

__all__ = ["seg_off", "hexw", "CR0_BITS", "CR4_BITS", "EFER_BITS", "EFLAGS_BITS", "bit_names",
           "seg_type", "offset_width"]

CR0_BITS = ((0, "PE"), (1, "MP"), (2, "EM"), (3, "TS"), (4, "ET"), (5, "NE"), (16, "WP"),
            (18, "AM"), (29, "NW"), (30, "CD"), (31, "PG"))
CR4_BITS = ((0, "VME"), (1, "PVI"), (2, "TSD"), (3, "DE"), (4, "PSE"), (5, "PAE"), (6, "MCE"),
            (7, "PGE"), (8, "PCE"), (9, "OSFXSR"), (10, "OSXMMEXCPT"), (11, "UMIP"),
            (12, "LA57"), (13, "VMXE"), (14, "SMXE"), (16, "FSGSBASE"), (17, "PCIDE"),
            (18, "OSXSAVE"), (20, "SMEP"), (21, "SMAP"), (22, "PKE"), (23, "CET"), (24, "PKS"))
EFER_BITS = ((0, "SCE"), (8, "LME"), (10, "LMA"), (11, "NXE"), (12, "SVME"), (13, "LMSLE"),
             (14, "FFXSR"), (15, "TCE"))
EFLAGS_BITS = ((21, "ID"), (20, "VIP"), (19, "VIF"), (18, "AC"), (17, "VM"), (16, "RF"),
               (14, "NT"), (11, "OF"), (10, "DF"), (9, "IF"), (8, "TF"), (7, "SF"), (6, "ZF"),
               (4, "AF"), (2, "PF"), (0, "CF"))


def bit_names(value: int, table: tuple[tuple[int, str], ...]) -> list[str]:
    return [name for bit, name in table if value >> bit & 1]


def hexw(value: int, width: int) -> str:
    return f"{value:0{width}x}"


def offset_width(bits: int) -> int:
    return {16: 4, 32: 8, 64: 16}.get(bits, 8)


def seg_off(st: CpuState, linear: int) -> str:
    """`linear` as CS:offset in the current code size (CS-relative, whatever the mode)."""
    if st.mode is Mode.LONG:
        return f"{st.cs.selector:04x}:{linear:016x}"
    off = (linear - st.cs.base) & 0xFFFFFFFF
    width = 4 if st.bits == 16 and off <= 0xFFFF else 8
    return f"{st.cs.selector:04x}:{off:0{width}x}"


_SYS_TYPES = {
    0: "reserved", 1: "tss16 avail", 2: "ldt", 3: "tss16 busy", 4: "callgate16", 5: "taskgate",
    6: "intgate16", 7: "trapgate16", 8: "reserved", 9: "tss avail", 10: "reserved",
    11: "tss busy", 12: "callgate", 13: "reserved", 14: "intgate", 15: "trapgate",
}


def seg_type(seg: Segment | int, s: int | None = None) -> str:
    """The type field decoded: 'data RW A', 'code XR C A', 'tss busy', 'ldt', ..."""
    if isinstance(seg, Segment):
        t, s = seg.type, seg.s
    else:
        t = seg
    if not s:
        return _SYS_TYPES.get(t, f"sys{t}")
    if t & 8:
        text = "code " + ("XR" if t & 2 else "X") + (" C" if t & 4 else "")
    else:
        text = "data " + ("RW" if t & 2 else "R") + (" E" if t & 4 else "")
    return text + (" A" if t & 1 else "")
