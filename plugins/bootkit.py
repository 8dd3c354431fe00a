"""bootkit: what boot-sector malware (and disk-encryption pre-boot code) does to the machine.

Reports, as they happen and in the `bootkit` command:
- IVT hooks: which vector, the old and new handler, and the instruction that wrote it;
- conventional memory stolen through the BDA word at 0x413 (KiB before and after, and who);
- code copied into the stolen block at the top of memory;
- writes to sector 0 of a disk (boot code and/or partition table changed);
- a hook chaining to the original (BIOS) handler.

Each finding is also a machine event of kind "bootkit" (shown in the context's events), and the
catchpoint kind `bootkit` stops on them: `pcatch bootkit [ivt-hook|mem-steal|copy|mbr-write|
chain] [VECTOR]`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BDA_MEMSIZE = 0x413


@dataclass
class Hook:
    vector: int
    old: int                    # seg:off as (seg << 16) | off
    new: int
    pc: int
    icount: int
    insn: str
    chained: int = 0
    chain_callers: list[str] = field(default_factory=list)


def _vec(v: int) -> str:
    return f"{v >> 16:04X}:{v & 0xFFFF:04X}"


def setup(api: Any) -> None:
    m = api.machine
    session = api.session
    ivt = bytearray(m.mem.read_phys(0, 0x400))
    hooks: dict[int, Hook] = {}
    findings: list[dict[str, Any]] = []
    mem_kib = [int.from_bytes(m.mem.read_phys(BDA_MEMSIZE, 2), "little")]
    orig_kib = mem_kib[0]
    steals: list[dict[str, Any]] = []
    copies: dict[int, dict[str, Any]] = {}
    sector0 = {d.bios_number: d.read(0, 1) for d in session.disks}

    def insn_at(pc: int) -> str:
        try:
            ins = session.disassemble(pc, 1)
            return ins[0].text if ins else "?"
        except Exception:
            return "?"

    def where(pc: int) -> str:
        st = m.state()
        off = pc - st.cs.base
        return f"{st.cs.selector:04X}:{off:04X}" if 0 <= off <= 0xFFFF else f"{pc:#x}"

    def report(what: str, message: str, **details: Any) -> None:
        findings.append({"what": what, "message": message, **details})
        api.print(f"bootkit: {message}")
        api.emit("bootkit", message, what=what, **details)

    # -- IVT --------------------------------------------------------------------------------------
    def on_ivt(a: Any) -> None:
        before = bytes(ivt)
        ivt[a.address:a.address + a.size] = (a.value & ((1 << (8 * a.size)) - 1)).to_bytes(
            a.size, "little")[:max(0, 0x400 - a.address)]
        first, last = a.address // 4, min(255, (a.address + a.size - 1) // 4)
        for v in range(first, last + 1):
            old = int.from_bytes(before[4 * v:4 * v + 4], "little")
            new = int.from_bytes(ivt[4 * v:4 * v + 4], "little")
            if old == new:
                continue
            h = hooks.get(v)
            if h is not None and a.icount - h.icount <= 2:
                h.new = new                  # the second half of a two-word write
                continue
            original = h.old if h is not None else old
            hooks[v] = Hook(v, original, new, a.pc, a.icount, insn_at(a.pc))
            if (new >> 16) == 0xF000 and original == new:
                continue
            report("ivt-hook", f"INT {v:02X}h hooked: {_vec(original)} -> {_vec(new)} by "
                   f"'{hooks[v].insn}' at {where(a.pc)} (icount {a.icount})",
                   vector=v, old=_vec(original), new=_vec(new), pc=a.pc, icount=a.icount)
            if original >> 16 == 0xF000 and v not in chain_hooks:
                chain_hooks[v] = api.hook_bios("before", v, None, lambda call, v=v: chain(v, call))

    # -- chaining to the original handler ----------------------------------------------------------
    chain_hooks: dict[int, Any] = {}

    def chain(v: int, call: Any) -> None:
        h = hooks.get(v)
        cur = int.from_bytes(m.mem.read_phys(4 * v, 4), "little")
        if h is None or cur == h.old or cur >> 16 == 0xF000:
            return                          # the vector is not (or no longer) hooked
        st = m.state()
        sp = st.ss.base + (st.rsp & 0xFFFF)
        ret = m.mem.read_linear(sp, 4)
        ip, cs = int.from_bytes(ret[0:2], "little"), int.from_bytes(ret[2:4], "little")
        caller = f"{cs:04X}:{ip:04X}"
        h.chained += 1
        if caller not in h.chain_callers:
            h.chain_callers.append(caller)
            report("chain", f"INT {v:02X}h hook chained to the original handler {_vec(h.old)} "
                   f"(AH={call.ah:02X}h, from {caller})", vector=v, caller=caller, ah=call.ah)

    # -- memory size and the stolen block ----------------------------------------------------------
    def on_memsize(a: Any) -> None:
        cur = bytearray(m.mem.read_phys(BDA_MEMSIZE, 2))
        for i in range(a.size):
            if 0 <= a.address + i - BDA_MEMSIZE < 2:
                cur[a.address + i - BDA_MEMSIZE] = (a.value >> (8 * i)) & 0xFF
        new = int.from_bytes(cur, "little")
        if new == mem_kib[0]:
            return
        old, mem_kib[0] = mem_kib[0], new
        if new < old:
            steals.append({"from": old, "to": new, "pc": a.pc, "icount": a.icount})
            report("mem-steal", f"conventional memory {old} -> {new} KiB ({old - new} KiB "
                   f"taken at {new * 1024:#x}) by '{insn_at(a.pc)}' at {where(a.pc)}",
                   old=old, new=new, pc=a.pc, icount=a.icount)
        else:
            report("mem-steal", f"conventional memory {old} -> {new} KiB", old=old, new=new,
                   pc=a.pc, icount=a.icount)

    def on_top(a: Any) -> None:
        top = mem_kib[0] * 1024
        if a.address < top or a.address >= orig_kib * 1024:
            return
        c = copies.get(top)
        if c is None:
            c = copies[top] = {"first": a.address, "last": a.address + a.size - 1, "bytes": 0,
                               "pc": a.pc, "icount": a.icount}
            report("copy", f"code/data copied to the stolen block at {a.address:#x} by "
                   f"'{insn_at(a.pc)}' at {where(a.pc)}", address=a.address, pc=a.pc)
        c["first"] = min(c["first"], a.address)
        c["last"] = max(c["last"], a.address + a.size - 1)
        c["bytes"] += a.size

    # -- sector 0 ----------------------------------------------------------------------------------
    def on_disk(ev: Any) -> None:
        d = ev.details
        if d.get("op") != "write" or d.get("status") != 0 or d.get("lba") is None:
            return
        if not d["lba"] <= 0 < d["lba"] + d["count"]:
            return
        disk = next((x for x in session.disks if x.bios_number == d["drive"]), None)
        if disk is None:
            return
        new = disk.read(0, 1)
        old = sector0.get(disk.bios_number, b"")
        parts = []
        if old[:0x1BE] != new[:0x1BE]:
            parts.append("boot code changed")
        if old[0x1BE:0x1FE] != new[0x1BE:0x1FE]:
            parts.append("partition table changed")
        if old[0x1FE:] != new[0x1FE:]:
            parts.append("signature changed")
        sector0[disk.bios_number] = new
        report("mbr-write", f"sector 0 of {disk.name} written from {d.get('caller')}: "
               + (", ".join(parts) or "same contents"), drive=disk.name, changes=parts)

    def command(ctx: Any, args: str) -> str:
        out = []
        for h in sorted(hooks.values(), key=lambda h: h.icount):
            if h.old == h.new:
                continue
            line = (f"INT {h.vector:02X}h: {_vec(h.old)} -> {_vec(h.new)} by '{h.insn}' at "
                    f"{h.pc:#x} (icount {h.icount})")
            if h.chained:
                line += f"; chained to the original {h.chained} times from " + \
                    ", ".join(h.chain_callers)
            out.append(line)
        for s in steals:
            out.append(f"memory: {s['from']} -> {s['to']} KiB at icount {s['icount']}")
        for top, c in copies.items():
            out.append(f"copied {c['bytes']} bytes to {c['first']:#x}-{c['last']:#x} "
                       f"(stolen block at {top:#x})")
        out += [f["message"] for f in findings if f["what"] == "mbr-write"]
        return "\n".join(out) if out else "Nothing suspicious so far."

    def match(ev: Any, args: tuple[str, ...]) -> str | None:
        if ev.kind != "bootkit":
            return None
        what = ev.details.get("what")
        for a in args:
            if a.isalpha() or "-" in a:
                if a != what:
                    return None
            elif ev.details.get("vector") != int(a, 0):
                return None
        return ev.message

    api.on_memory(0, 0x3FF, on_ivt)
    api.on_memory(BDA_MEMSIZE, BDA_MEMSIZE + 1, on_memsize)
    api.on_memory(0x10000, 0x9FFFF, on_top)
    api.on_disk(on_disk)
    api.register_command("bootkit", command, usage="bootkit",
                         help="IVT hooks, memory stolen via 0x413, copies to the top of memory, "
                              "sector-0 writes, chaining (plugin bootkit).")
    api.register_catch_kind("bootkit", match, help="pcatch bootkit [WHAT] [VECTOR]")
    api.findings = findings
    api.hooks = hooks
