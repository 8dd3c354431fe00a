"""emucost: per checker profile, how much of the run a hypervisor could not VM-enter -- the
instructions it would have to emulate instead of running natively, and in which code ranges.

    plugin load emucost [profiles=vmx,kvm,xen,svm,vmx-ug]
    emucost                 table: instructions, not enterable (count, %), intervals, code ranges
    emucost plot [WIDTH]    a timeline per profile: '#' where the state was not enterable
    emucost csv FILE        the not-enterable intervals (profile, from, to, instructions)

The state is judged with `debugger.checks.evaluate` whenever the watched CPU state (control
registers, segment caches, descriptor tables, EFLAGS.VM/IOPL, CPL, A20) changes, at basic-block
granularity; every instruction from there to the next change counts for that verdict.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


def setup(api: Any) -> None:
    from debugger.checks import PROFILES, evaluate
    from debugger.engine.transitions import signature

    m = api.machine
    names = [p.strip() for p in api.options.get("profiles", ",".join(PROFILES)).split(",")
             if p.strip()]
    bad = [n for n in names if n not in PROFILES]
    if bad:
        raise ValueError(f"unknown profile(s) {', '.join(bad)}; one of: {', '.join(PROFILES)}")
    cache: dict[bytes, dict[str, bool]] = {}
    start = m.icount
    cur: dict[str, Any] = {"sig": None, "ok": None, "since": start, "last": start}
    intervals: dict[str, list[list[int]]] = {n: [] for n in names}
    ranges: dict[str, dict[int, list[int]]] = {n: {} for n in names}   # block -> [size, hits]

    def verdicts() -> dict[str, bool]:
        sig = signature(m.eng)
        if sig != cur["sig"]:
            cur["sig"] = sig
            if sig not in cache:
                st = m.state()
                cache[sig] = {n: evaluate(st, n).ok for n in names}
        return cache[sig]

    def account(upto: int) -> None:
        ok = cur["ok"]
        if ok is None:
            return
        for n in names:
            if not ok[n]:
                iv = intervals[n]
                if iv and iv[-1][1] == cur["since"]:
                    iv[-1][1] = upto
                elif upto > cur["since"]:
                    iv.append([cur["since"], upto])

    def on_block(address: int, size: int, icount: int) -> None:
        now = icount                    # instructions retired before this block
        ok = verdicts()
        if ok is not cur["ok"]:
            account(now)
            cur["ok"], cur["since"] = ok, now
        cur["last"] = now
        for n in names:
            if not ok[n]:
                r = ranges[n].setdefault(address, [size, 0])
                r[1] += 1

    def close() -> None:
        account(m.icount)
        cur["since"] = m.icount

    def table() -> str:
        close()
        total = max(1, m.icount - start)
        lines = [f"{'profile':<8} {'instructions':>12} {'not enterable':>14} {'%':>6} "
                 f"{'intervals':>9}  code ranges (linear, blocks entered)"]
        for n in names:
            bad_n = sum(b - a for a, b in intervals[n])
            lines.append(f"{n:<8} {m.icount - start:>12} {bad_n:>14} {100 * bad_n / total:>6.1f} "
                         f"{len(intervals[n]):>9}  {_ranges(ranges[n])}")
        return "\n".join(lines)

    def plot(width: int) -> str:
        close()
        end = max(m.icount, start + 1)
        span = end - start
        out = [f"timeline icount {start}..{end} ('#' not enterable, '.' enterable)"]
        for n in names:
            cells = ["."] * width
            for a, b in intervals[n]:
                first = (a - start) * width // span
                last = max(first + 1, -(-(b - start) * width // span))
                for c in range(first, last):
                    if 0 <= c < width:
                        cells[c] = "#"
            out.append(f"{n:<8} |{''.join(cells)}|")
        return "\n".join(out)

    def command(ctx: Any, args: str) -> str:
        from debugger.commands import CommandError

        words = args.split()
        if not words:
            return table()
        if words[0] == "plot" and len(words) <= 2:
            try:
                width = int(words[1]) if len(words) == 2 else 60
            except ValueError:
                raise CommandError(f"emucost plot: bad width {words[1]!r}") from None
            if not 10 <= width <= 400:
                raise CommandError("emucost plot: width between 10 and 400")
            return plot(width)
        if words[0] == "csv" and len(words) == 2:
            close()
            try:
                with open(Path(words[1]), "w", newline="", encoding="utf-8") as f:
                    w = csv.writer(f, lineterminator="\n")
                    w.writerow(["profile", "from_icount", "to_icount", "instructions"])
                    for n in names:
                        for a, b in intervals[n]:
                            w.writerow([n, a, b, b - a])
            except OSError as exc:
                raise CommandError(f"emucost: {words[1]}: {exc.strerror or exc}") from None
            return f"Wrote the not-enterable intervals to {words[1]}."
        raise CommandError("usage: emucost [plot [WIDTH] | csv FILE]")

    cur["ok"] = verdicts()
    api.on_block(on_block)
    api.register_command("emucost", command, usage="emucost [plot [WIDTH] | csv FILE]",
                         help="Per checker profile: instructions a hypervisor would have to "
                              "emulate (state not enterable) and where (plugin emucost).")
    api.intervals = intervals
    api.table = table


def _ranges(blocks: dict[int, list[int]], limit: int = 4) -> str:
    if not blocks:
        return "-"
    merged: list[list[int]] = []
    for addr in sorted(blocks):
        size, hits = blocks[addr]
        if merged and addr <= merged[-1][1] + 16:
            merged[-1][1] = max(merged[-1][1], addr + size)
            merged[-1][2] += hits
        else:
            merged.append([addr, addr + size, hits])
    merged.sort(key=lambda r: -r[2])
    text = ", ".join(f"{a:#x}-{b - 1:#x} ({h})" for a, b, h in merged[:limit])
    return text + (f", +{len(merged) - limit} more" if len(merged) > limit else "")
