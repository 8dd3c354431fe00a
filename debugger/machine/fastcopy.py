"""`copy.deepcopy` of device states, with the common cases taken without its general machinery.

A checkpoint copies every device's attributes whenever a device changed since the last one (see
`snapshot.take`), and a stop that must be localised restores them again: with catchpoints armed
on boot code that stops thousands of times a second, `copy.deepcopy`'s per-object dispatch
(reduce protocol, reconstruct, keep-alive list) was a tenth of the time.  This gives the same
copy: atomic values are returned as they are (inside a container without a call for each),
lists, dicts, deques and bytearrays are copied element by element, `Links` are themselves, instances of plain classes (their state is their `__dict__`, nothing customises how
they are copied) become a new instance with a copied `__dict__`, and the memo is honoured first,
so shared objects stay shared and aliases stay aliases.  Anything else goes to `copy.deepcopy`
with the same memo.
"""
from __future__ import annotations

import collections
import copy
import copyreg
from typing import Any

from debugger.machine.devices._base import Links

__all__ = ["deepcopy"]

_ATOMIC = frozenset({int, float, bool, str, bytes, complex, type(None), type(Ellipsis),
                     type(NotImplemented), range})
_plain: dict[type, bool] = {}
_MISSING = object()
_deque = collections.deque


def _is_plain(cls: type) -> bool:
    """Instances are copied by deepcopy as `cls.__new__(cls)` plus a copy of their __dict__."""
    ok = _plain.get(cls)
    if ok is None:
        ok = (cls in copy._deepcopy_dispatch) is False and \
            cls not in copyreg.dispatch_table and \
            getattr(cls, "__deepcopy__", None) is None and \
            cls.__reduce_ex__ is object.__reduce_ex__ and \
            cls.__reduce__ is object.__reduce__ and \
            getattr(cls, "__getstate__", object.__getstate__) is object.__getstate__ and \
            getattr(cls, "__setstate__", None) is None and \
            getattr(cls, "__getnewargs_ex__", None) is None and \
            getattr(cls, "__getnewargs__", None) is None and \
            "__slots__" not in _mro_dicts(cls) and \
            cls.__new__ is object.__new__ and \
            "__dict__" in _mro_dicts(cls)
        _plain[cls] = ok
    return ok


def _mro_dicts(cls: type) -> set[str]:
    names: set[str] = set()
    for k in cls.__mro__[:-1]:
        names.update(vars(k))
    return names


def deepcopy(x: Any, memo: dict[int, Any]) -> Any:
    cls = type(x)
    if cls in _ATOMIC:
        return x
    i = id(x)
    y = memo.get(i, _MISSING)
    if y is not _MISSING:
        return y
    # (atomic elements are taken as they are without a call: most of a device's state is ints)
    atomic = _ATOMIC
    if cls is dict:
        y = {}
        memo[i] = y
        for k, v in x.items():
            y[k if type(k) in atomic else deepcopy(k, memo)] = \
                v if type(v) in atomic else deepcopy(v, memo)
    elif cls is list:
        y = []
        memo[i] = y
        y.extend([v if type(v) in atomic else deepcopy(v, memo) for v in x])
    elif cls is bytearray:
        y = memo[i] = bytearray(x)
    elif cls is Links:
        return x            # (its __deepcopy__: itself, not entered in the memo)
    elif cls is _deque:
        y = _deque(maxlen=x.maxlen)
        memo[i] = y
        y.extend([v if type(v) in atomic else deepcopy(v, memo) for v in x])
    elif _is_plain(cls):
        y = object.__new__(cls)
        memo[i] = y
        state = x.__dict__
        if state:
            y.__dict__.update(deepcopy(state, memo))
    else:
        return copy.deepcopy(x, memo)
    # (as copy.deepcopy: the originals stay alive as long as the memo, so no id is reused)
    memo.setdefault(id(memo), []).append(x)
    return y
