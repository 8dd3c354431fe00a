"""The end-of-run summary of a triage (`summarise`, `summary_table`) and the progress bar."""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

__all__ = ["Progress", "summarise", "summary_table"]


def summarise(rows: Iterable[dict[str, Any]], profiles: Iterable[str]) -> dict[str, Any]:
    rows = list(rows)
    profiles = list(profiles)
    outcomes = Counter(r.get("outcome") or "ok" for r in rows)
    unent: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    for r in rows:
        for p, v in (r.get("profiles") or {}).items():
            if isinstance(v, dict):
                unent[p] += 1
                for rule in v.get("rules") or ():
                    rules[rule] += 1
    return {"images": len(rows), "outcomes": dict(outcomes),
            "prompt": sum(1 for r in rows if r.get("prompt")),
            "stop_reasons": dict(Counter(r.get("stop_reason") or "-" for r in rows)),
            "unenterable": {p: unent.get(p, 0) for p in profiles},
            "top_rules": rules.most_common(8)}


def summary_table(s: dict[str, Any]) -> Any:
    from rich.table import Table

    t = Table(title=f"triage: {s['images']} images", show_header=False, box=None)
    t.add_column(style="bold")
    t.add_column()
    t.add_row("boot to a prompt", str(s["prompt"]))
    t.add_row("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(s["outcomes"].items())))
    t.add_row("stop reasons", ", ".join(f"{k} {v}" for k, v in sorted(s["stop_reasons"].items())))
    for p, n in s["unenterable"].items():
        t.add_row(f"un-enterable ({p})", str(n))
    if s["top_rules"]:
        t.add_row("top first-failing rules",
                  "\n".join(f"{rule} ({n})" for rule, n in s["top_rules"]))
    return t


class Progress:
    """A rich progress bar on a terminal (done/total, images/min, failures); silent otherwise."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.enabled = bool(console.is_terminal)
        self._bar: Any = None
        self._task: Any = None
        self.done = self.failed = 0
        self._t0 = time.monotonic()

    def start(self, total: int, skipped: int) -> None:
        if skipped:
            self.console.print(f"{skipped} image(s) already in the results: skipped")
        if not self.enabled or total == 0:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self._bar = Bar(TextColumn("triage"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[rate]} images/min"),
                        TextColumn("{task.fields[failed]} failed"), TimeElapsedColumn(),
                        console=self.console, transient=True)
        self._task = self._bar.add_task("triage", total=total, rate="-", failed=0)
        self._bar.start()

    def advance(self, row: dict[str, Any]) -> None:
        self.done += 1
        if row.get("outcome") not in (None, "ok"):
            self.failed += 1
        if self._bar is not None:
            minutes = max(1e-6, (time.monotonic() - self._t0) / 60)
            self._bar.update(self._task, advance=1, rate=f"{self.done / minutes:.1f}",
                             failed=self.failed)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
