"""disklog: every INT 13h disk access -- drive, CHS and LBA, sector count, buffer address and the
SHA-256 of the data transferred -- printed as it happens and exportable as CSV or JSON.

    plugin load disklog [quiet=1] [csv=FILE] [json=FILE]
    disklog                 the accesses so far, as a table
    disklog csv FILE        write them as CSV (json FILE: as JSON)
    disklog clear           forget them

With csv= or json= the file is rewritten at every stop and when the plugin is unloaded.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path
from typing import Any

FIELDS = ("icount", "drive", "op", "lba", "cylinder", "head", "sector", "count", "buffer",
          "status", "sha256", "caller")


def setup(api: Any) -> Any:
    rows: list[dict[str, Any]] = []
    quiet = api.options.get("quiet", "0") not in ("0", "", "no", "false")
    session = api.session

    def on_disk(ev: Any) -> None:
        d = ev.details
        count = int(d.get("count") or 0)
        digest = ""
        if d.get("status") == 0 and d.get("op") in ("read", "write") and count:
            try:
                digest = hashlib.sha256(session.read_memory(d["buffer"], count * 512)).hexdigest()
            except Exception:
                digest = ""
        chs = d.get("chs") or (None, None, None)
        disk_name = _drive_name(session, d.get("drive"))
        row = {"icount": ev.icount, "drive": disk_name, "op": d.get("op"), "lba": d.get("lba"),
               "cylinder": chs[0], "head": chs[1], "sector": chs[2], "count": count,
               "buffer": f"{d.get('buffer', 0):#x}", "status": d.get("status"),
               "sha256": digest, "caller": str(d.get("caller") or "")}
        rows.append(row)
        if not quiet:
            api.print(_line(row))

    def export(path: str, fmt: str) -> None:
        text = _csv(rows) if fmt == "csv" else json.dumps(rows, indent=1) + "\n"
        Path(path).write_text(text, encoding="utf-8")

    def autosave(_ev: Any = None) -> None:
        for fmt in ("csv", "json"):
            if api.options.get(fmt):
                export(api.options[fmt], fmt)

    def command(ctx: Any, args: str) -> Any:
        from debugger.commands import CommandError

        words = args.split()
        if not words:
            if not rows:
                return "No disk accesses yet."
            return "\n".join(_line(r) for r in rows)
        if words[0] == "clear" and len(words) == 1:
            rows.clear()
            return "Disk log cleared."
        if words[0] in ("csv", "json") and len(words) == 2:
            try:
                export(words[1], words[0])
            except OSError as exc:
                raise CommandError(f"disklog: {words[1]}: {exc.strerror or exc}") from None
            return f"Wrote {len(rows)} disk accesses to {words[1]}."
        raise CommandError("usage: disklog [csv FILE | json FILE | clear]")

    api.on_disk(on_disk)
    api.on_stop(autosave)
    api.register_command("disklog", command, usage="disklog [csv FILE | json FILE | clear]",
                         help="INT 13h accesses with CHS, LBA, buffer and SHA-256 (plugin "
                              "disklog); export as CSV or JSON.")
    api.rows = rows            # for tests and other plugins
    return autosave            # teardown: write the files one last time


def _drive_name(session: Any, number: Any) -> str:
    for d in session.disks:
        if d.bios_number == number:
            return d.name
    return f"{number:#04x}" if isinstance(number, int) else str(number)


def _line(r: dict[str, Any]) -> str:
    chs = "" if r["cylinder"] is None else f" C/H/S {r['cylinder']}/{r['head']}/{r['sector']}"
    lba = "?" if r["lba"] is None else r["lba"]
    status = "ok" if r["status"] == 0 else f"error {r['status']:02X}h"
    sha = f" sha256 {r['sha256'][:16]}" if r["sha256"] else ""
    return (f"disk [{r['icount']}] {r['drive']} {r['op']} {r['count']} at LBA {lba}{chs} "
            f"-> {r['buffer']}: {status}{sha}")


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: "" if r[k] is None else r[k] for k in FIELDS})
    return out.getvalue()
