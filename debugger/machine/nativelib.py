"""Loading bootdbg's optional native helpers (C hooks built by setup.py, used through ctypes).

Each helper is a Python extension module that exports a `<prefix>_size()` function giving the
size of the C struct it shares with Python; a mismatch (a stale build) counts as unavailable,
like a missing build or `BOOTDBG_NO_NATIVE=1`.  `load` says why in one line.
"""
from __future__ import annotations

import ctypes
import importlib
import os
from functools import lru_cache

__all__ = ["load"]


@lru_cache(maxsize=None)
def load(module: str, size_symbol: str, struct: type,
         argtypes: tuple[tuple[str, tuple[type, ...]], ...] = ()) -> tuple[ctypes.CDLL | None, str]:
    """(the library, "") or (None, why it is not available).  `argtypes`: (function name,
    argument types) for the functions Python calls (the hooks need none).  Cached: once per
    process."""
    if os.environ.get("BOOTDBG_NO_NATIVE"):
        return None, "disabled by BOOTDBG_NO_NATIVE"
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        return None, f"not built ({exc})"
    lib = ctypes.CDLL(mod.__file__)
    if getattr(lib, size_symbol)() != ctypes.sizeof(struct):
        return None, "native module does not match its bindings (rebuild with pip install -e .)"
    for name, types in argtypes:
        getattr(lib, name).argtypes = list(types)
    return lib, ""
