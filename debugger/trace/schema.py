"""The decoded JSON of a trace's chunks, checked field by field before anything uses it.

A chunk's checksum proves that the bytes are the ones written, not that a writer (or someone
rewriting the file) put sensible values in them: every field a reader or a replay uses is
checked here for its type and range, and anything else is one `TraceError` line naming the
chunk and the field.  `header`, `checkpoint`, `end` and `inputs` return what they were given.
"""
from __future__ import annotations

from typing import Any

from debugger.trace import format as F

__all__ = ["header", "checkpoint", "end", "inputs"]

_U64 = (1 << 64) - 1
_HEX = frozenset("0123456789abcdefABCDEF")


class _Bad(Exception):
    pass


def _int(d: dict, key: str, lo: int = 0, hi: int = _U64, *, need: bool = True) -> None:
    v = d.get(key)
    if v is None and not need and key not in d:
        return
    if type(v) is not int or not lo <= v <= hi:
        raise _Bad(f"{key} = {str(v)[:40]!r} is not a whole number in [{lo}, {hi:#x}]")


def _str(d: dict, key: str, *, need: bool = True, hexa: bool = False, none: bool = False
         ) -> None:
    v = d.get(key)
    if key not in d and not need:
        return
    if v is None and none:
        return
    if not isinstance(v, str) or (hexa and (len(v) % 2 or not set(v) <= _HEX)):
        raise _Bad(f"{key} = {str(v)[:40]!r} is not {'a hex string' if hexa else 'text'}")


def _dict(d: dict, key: str) -> dict:
    v = d.get(key)
    if not isinstance(v, dict):
        raise _Bad(f"{key} is not an object")
    return v


def _wrap(path: Any, what: str, fn: Any, obj: Any) -> Any:
    try:
        if not isinstance(obj, dict):
            raise _Bad("not an object")
        fn(obj)
    except _Bad as exc:
        raise F.TraceError(f"{path}: {what} is malformed: {exc}") from None
    return obj


def _header(h: dict) -> None:
    # (A file holding only a per-instruction trace may have no machine config: a replay then
    # says it lacks one.  What is there is checked.)
    if "config" in h:
        _config(_dict(h, "config"))
    if "disks" in h:
        _disks(h.get("disks"))
    _int(h, "interval", 1, _U64, need=False)
    _str(h, "profile", need=False)
    for k in ("bootdbg", "unicorn"):
        _str(h, k, need=False, none=True)


def _config(cfg: dict) -> None:
    _int(cfg, "ram_size", 1 << 20, 1 << 40)
    if cfg.get("boot_drive") is not None:           # None: boot from the first disk
        _int(cfg, "boot_drive", 0, 0xFF)
    _int(cfg, "ns_per_insn", 0, 1 << 32)
    _str(cfg, "serial_input", hexa=True)
    _str(cfg, "keys")


def _disks(disks: Any) -> None:
    if not isinstance(disks, list):
        raise _Bad("disks is not a list")
    for d in disks:
        if not isinstance(d, dict):
            raise _Bad("a disk is not an object")
        _str(d, "name")
        _str(d, "kind")
        _str(d, "path", need=False, none=True)
        _str(d, "sha256", hexa=True)
        _int(d, "size", 0, 1 << 48)
        if not isinstance(d.get("embedded", False), bool):
            raise _Bad("a disk's embedded flag is not true/false")


def _state(st: Any) -> None:
    """A CPU state as `CpuState.to_dict` writes it: every field of the type its default has."""
    import dataclasses

    from debugger.cpustate import Activity, CpuState

    if not isinstance(st, dict):
        raise _Bad("state is not an object")
    ref = CpuState()
    for f in dataclasses.fields(CpuState):
        if f.name not in st:
            continue
        v, d = st[f.name], getattr(ref, f.name)
        if isinstance(d, Activity):
            ok = (type(v) is int and v in {a.value for a in Activity}) or (
                isinstance(v, str) and v.upper() in Activity.__members__)
        elif isinstance(d, bool):
            ok = isinstance(v, bool)
        elif isinstance(d, int):
            ok = type(v) is int and 0 <= v <= _U64
        elif dataclasses.is_dataclass(d):
            names = {g.name for g in dataclasses.fields(d)}
            ok = isinstance(v, dict) and set(v) == names and all(
                type(x) is int and 0 <= x <= _U64 for x in v.values())
        else:
            ok = d is None or type(v) is type(d)
        if not ok:
            raise _Bad(f"state field {f.name} = {str(v)[:40]!r} is not valid")
    try:
        CpuState.from_dict(st)
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        raise _Bad(f"state: {str(exc)[:80]}") from None


def _checkpoint(m: dict) -> None:
    from debugger.cpustate import Activity

    for k in ("icount", "seq", "clock", "serial_len", "events_total", "cpu_len"):
        _int(m, k)
    _str(m, "state_hash", hexa=True)
    _int(m, "activity", 0, 0xFF)
    try:
        Activity(m["activity"])
    except ValueError:
        raise _Bad(f"activity = {m['activity']} is not an activity state") from None
    if m.get("number") is not None:
        _int(m, "number")
    pages = m.get("pages")
    if not isinstance(pages, list) or any(type(p) is not int or not 0 <= p < 1 << 28
                                          for p in pages):
        raise _Bad("pages is not a list of page numbers")
    if "state" in m:
        _state(m["state"])


def _end(e: dict) -> None:
    _int(e, "icount")
    _int(e, "seq", need=False)
    _str(e, "reason", need=False, none=True)
    _str(e, "message", need=False, none=True)
    _str(e, "serial", hexa=True, need=False)
    _str(e, "state_hash", hexa=True, need=False)


def _input(i: dict) -> None:
    _int(i, "icount")
    kind = i.get("kind")
    if kind == "state":
        _state(i.get("state"))
    elif kind == "memory":
        _int(i, "address")
        _str(i, "data", hexa=True)
        _str(i, "space", need=False)
    else:
        raise _Bad(f"kind = {str(kind)[:40]!r} is not state or memory")


def header(path: Any, h: Any) -> dict[str, Any]:
    return _wrap(path, "the trace header", _header, h)


def checkpoint(path: Any, seq: int, m: Any) -> dict[str, Any]:
    return _wrap(path, f"checkpoint chunk {seq}", _checkpoint, m)


def end(path: Any, seq: int, e: Any) -> dict[str, Any]:
    return _wrap(path, f"the end record (chunk {seq})", _end, e)


def inputs(path: Any, seq: int, items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        raise F.TraceError(f"{path}: input chunk {seq} is malformed: not a list")
    for it in items:
        _wrap(path, f"input chunk {seq}", _input, it)
    return items
