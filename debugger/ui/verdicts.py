"""A checker verdict as the panes show it: which register and field each violated rule is about.

Its own module so that the panes (`debugger.ui.panes`, `debugger.ui.tui.panes`) and the context
that renders them (`debugger.ui.context`) both use it without importing each other.
"""
from __future__ import annotations

from typing import Any

__all__ = ["violations_by_register"]


def violations_by_register(verdict: Any) -> dict[str, list[tuple[str, str]]]:
    """{register: [(field, rule id)]} of the verdict's violations ('' register: global rules)."""
    out: dict[str, list[tuple[str, str]]] = {}
    if verdict is None:
        return out
    for v in getattr(verdict, "violations", ()):
        reg = (getattr(v, "register", "") or "").lower()
        fld = (getattr(v, "field", "") or "").lower()
        if not reg and "." in fld:
            reg = fld.split(".", 1)[0]
        out.setdefault(reg, []).append((fld, str(getattr(v, "rule", ""))))
    return out
