"""`info devices`: the device models' state (PIC, PIT, A20, UART, CRTC, ...).

Each device may describe itself (`debug_state()` -> dict); otherwise its public scalar
attributes are shown.  The A20 line comes from the CPU state.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.text import Text

from debugger.commands import CommandError

if TYPE_CHECKING:
    from debugger.engine.session import Session

__all__ = ["devices_report", "device_fields"]


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:#x}" if v > 9 else str(v)
    if isinstance(v, (bytes, bytearray)):
        return v[:32].hex() + ("..." if len(v) > 32 else "")
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v[:16]) + (", ..." if len(v) > 16 else "") + "]"
    return str(v)


def device_fields(dev: Any) -> dict[str, Any]:
    for name in ("debug_state", "state_dict", "describe"):
        fn = getattr(dev, name, None)
        if callable(fn):
            try:
                got = fn()
            except Exception:
                continue
            if isinstance(got, dict):
                return got
    out: dict[str, Any] = {}
    for k, v in sorted(vars(dev).items()):
        if k.startswith("_") or callable(v):
            continue
        if isinstance(v, (bool, int, str, bytes, bytearray)) or (
                isinstance(v, (list, tuple)) and all(isinstance(x, (int, bool)) for x in v)):
            out[k] = v
    return out


def _summary(dev: Any) -> list[str]:
    """The few facts a user looks for first (PIT counters, CRTC cursor)."""
    out: list[str] = []
    for ch in getattr(dev, "channels", None) or []:
        if hasattr(ch, "mode") and hasattr(ch, "count"):
            out.append(f"channel {getattr(ch, 'index', len(out))}: mode {ch.mode} reload "
                       f"{ch.count:#06x} {'running' if getattr(ch, 'running', False) else 'idle'}"
                       f"{' gate' if getattr(ch, 'gate', False) else ''}")
    crtc = getattr(dev, "crtc", None)
    cols = getattr(dev, "cols", 80) or 80
    if isinstance(crtc, (bytes, bytearray, list)) and len(crtc) > 15:
        loc = (crtc[14] << 8) | crtc[15]
        start = (crtc[12] << 8) | crtc[13]
        out.append(f"cursor row {loc // cols} column {loc % cols} (offset {loc:#x}); start "
                   f"address {start:#x}; cursor {'off' if crtc[10] & 0x20 else 'on'}")
    return out


def _name(dev: Any) -> str:
    return str(getattr(dev, "name", "") or type(dev).__name__)


def devices_report(session: "Session", which: str = "") -> Any:
    m = session.machine
    devs = getattr(m, "devices", None)
    if devs is None:
        raise CommandError("this machine has no device models")
    items = list(devs.all()) if hasattr(devs, "all") else []
    if which:
        items = [d for d in items if _name(d).lower().startswith(which.lower())]
        if not items:
            raise CommandError(f"no device named {which!r}; devices: "
                               + ", ".join(_name(d) for d in devs.all()))
    parts: list[Any] = []
    if not which:
        st = session.state()
        parts.append(Text(f"A20 {'enabled' if st.a20 else 'disabled (addresses wrap at 1 MiB)'}",
                          style="heading"))
    for d in items:
        t = Text(_name(d), style="heading")
        desc = getattr(d, "describe", None)
        if callable(desc):
            try:
                got = desc()
            except Exception:
                got = None
            if isinstance(got, str) and got.strip():
                t.append("\n  " + "\n  ".join(got.strip().splitlines()))
                parts.append(t)
                continue
        for line in _summary(d):
            t.append("\n  " + line)
        for k, v in device_fields(d).items():
            t.append(f"\n  {k:<20}", style="reg.name")
            t.append(_fmt(v))
        parts.append(t)
    return Group(*parts)
