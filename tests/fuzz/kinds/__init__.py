"""The fuzz kinds, by name (each module holds one)."""
from __future__ import annotations

from typing import Any

NAMES = ("images", "scripts", "argv", "traces", "dumps", "qemulog", "rsp", "keys")


def make(name: str) -> Any:
    import importlib

    if name not in NAMES:
        raise KeyError(name)
    mod = importlib.import_module(f"tests.fuzz.kinds.{name}")
    return mod.KIND()
