"""Validation and normalisation of catchpoint arguments (`catch KIND [ARGS...]`)."""
from __future__ import annotations

from typing import Any

__all__ = ["normalise"]

_SREGS = ("es", "cs", "ss", "ds", "fs", "gs")
_CRS = ("cr0", "cr3", "cr4", "efer")
_DTRS = ("gdtr", "idtr", "ldtr", "tr")


def _num(v: Any, what: str, top: int) -> int:
    if isinstance(v, int):
        n = v
    else:
        t = str(v).strip().lower()
        try:
            n = int(t[:-1], 16) if t.endswith("h") else int(t, 0)
        except ValueError:
            raise ValueError(f"{what} must be a number, not {v!r}") from None
    if not 0 <= n <= top:
        raise ValueError(f"{what} {n:#x} out of range (0..{top:#x})")
    return n


def normalise(kind: str, args: tuple[Any, ...], profile: str) -> tuple[Any, ...]:
    a = [str(x).lower() if not isinstance(x, int) else x for x in args]
    if kind == "vm86":
        if len(a) > 1 or (a and a[0] not in ("enter", "leave", "both")):
            raise ValueError("catch vm86 takes enter, leave or nothing")
        return (a[0],) if a else ("both",)
    if kind in ("vmx-invalid", "vmx-valid"):
        from debugger.checks import PROFILES

        profs = tuple(str(x) for x in a) or (profile,)
        for p in profs:
            if p not in PROFILES:
                raise ValueError(f"unknown profile {p!r}; one of: {', '.join(PROFILES)}")
        return profs
    if kind == "sreg":
        for r in a:
            if r not in _SREGS:
                raise ValueError(f"catch sreg: {r!r} is not a segment register")
        return tuple(a)
    if kind == "cr":
        for r in a:
            if r not in _CRS:
                raise ValueError(f"catch cr: {r!r} is not one of {', '.join(_CRS)}")
        return tuple(a)
    if kind == "dtr":
        for r in a:
            if r not in _DTRS:
                raise ValueError(f"catch dtr: {r!r} is not one of {', '.join(_DTRS)}")
        return tuple(a)
    if kind in ("int", "bios"):
        if len(a) > 2:
            raise ValueError(f"catch {kind} takes [VECTOR [AH]]")
        out = [_num(a[0], "vector", 0xFF)] if a else []
        if len(a) > 1:
            out.append(_num(a[1], "AH", 0xFF))
        return tuple(out)
    if kind in ("exception", "irq"):
        if len(a) > 1:
            raise ValueError(f"catch {kind} takes [VECTOR]")
        return (_num(a[0], "vector", 0xFF),) if a else ()
    if kind == "io":
        if len(a) > 2:
            raise ValueError("catch io takes [PORT [LAST]]")
        ports = [_num(x, "port", 0xFFFF) for x in a]
        if len(ports) == 1:
            ports.append(ports[0])
        return tuple(ports)
    if a:
        raise ValueError(f"catch {kind} takes no arguments")
    return ()
