"""Results files: JSON Lines (`.jsonl`, one row per line) or CSV (`.csv`; nested fields as JSON
text).  Rows are appended and flushed one at a time, so an interrupted run leaves a valid file;
`done_keys` reads what a previous run wrote (for resumption)."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any, TextIO

__all__ = ["CSV_COLUMNS", "OutputError", "RowWriter", "done_keys", "read_rows"]

CSV_COLUMNS = ("path", "sha256", "size", "options", "drive", "outcome", "stop_reason",
               "stop_message", "icount", "wall_s", "final_mode", "final_cs_eip", "modes", "vm86",
               "profiles", "bios_calls", "ivt_rewired", "memory_kib", "sector0_writes", "serial",
               "screen", "screen_sha256", "prompt", "activity", "activity_gaps", "plugins",
               "recording", "plugin_errors", "script_output", "error", "version")


class OutputError(Exception):
    """The output file cannot be used (one line)."""


def _is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def _repair_jsonl(path: Path) -> None:
    """A line cut short by a kill (not Ctrl-C, which finishes the rows) is dropped."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[:data.rfind(b"\n") + 1])


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.exists():
        return []
    rows: list[dict[str, Any]] = []
    try:
        if _is_csv(p):
            with open(p, newline="", encoding="utf-8") as f:
                for rec in csv.DictReader(f):
                    rows.append({k: _decode(v) for k, v in rec.items() if k is not None})
            return rows
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    continue           # a line cut short
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise OutputError(f"{p}: cannot read the existing results ({exc})") from None
    return rows


def _decode(v: str) -> Any:
    if v == "":
        return None
    if v[:1] in "{[" or v in ("true", "false", "null"):
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


def done_keys(path: str | Path) -> set[tuple[str, str]]:
    return {(str(r.get("sha256")), str(r.get("options"))) for r in read_rows(path)
            if r.get("sha256")}


class RowWriter:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.csv = _is_csv(self.path)
        try:
            if self.path.exists() and not self.csv:
                _repair_jsonl(self.path)
            new = not self.path.exists() or self.path.stat().st_size == 0
            self._f: TextIO = open(self.path, "a", newline="" if self.csv else None,
                                   encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{path}: {exc.strerror or exc}") from None
        self._csv = csv.DictWriter(self._f, CSV_COLUMNS, extrasaction="ignore") \
            if self.csv else None
        if self._csv is not None and new:
            self._csv.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        if self._csv is not None:
            self._csv.writerow({k: _cell(row.get(k)) for k in CSV_COLUMNS})
        else:
            self._f.write(json.dumps(row, default=str, ensure_ascii=False) + "\n")
        self._f.flush()
        try:
            os.fsync(self._f.fileno())
        except OSError:
            pass

    def close(self) -> None:
        self._f.close()


def _cell(v: Any) -> Any:
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False, sort_keys=True)
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else v
