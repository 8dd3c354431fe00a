"""bootdbg: a debugger for x86 boot code."""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "version_report", "slow_path_notice", "Session"]


def __getattr__(name: str) -> object:
    if name == "Session":
        from debugger.engine.session import Session

        return Session
    raise AttributeError(name)


def version_report() -> str:
    """What `bootdbg --version` prints: our version, the engine's, and which fast path is active."""
    lines = [f"bootdbg {__version__}"]
    try:
        import unicorn

        lines.append(f"unicorn {unicorn.__version__}")
    except Exception as exc:  # pragma: no cover - reported, not fatal
        lines.append(f"unicorn: not available ({exc})")
    try:
        import capstone

        lines.append(f"capstone {capstone.__version__}")
    except Exception as exc:  # pragma: no cover
        lines.append(f"capstone: not available ({exc})")
    try:
        from debugger.engine import native

        if native.available():
            lines.append("fast path: native block hook (debugger/engine/_native.c)")
        else:
            lines.append(f"fast path: pure-Python fallback ({native.why_unavailable()})")
    except Exception as exc:  # pragma: no cover
        lines.append(f"fast path: unavailable ({exc})")
    try:
        from debugger.machine import blockcount

        lines.append("instruction counting: " + (
            "per block between events (debugger/machine/_blockcount.c)" if blockcount.available()
            else f"Unicorn's count hook on every instruction ({blockcount.why_unavailable()})"))
    except Exception as exc:  # pragma: no cover
        lines.append(f"instruction counting: count hook ({exc})")
    try:
        from debugger.trace import ftnative

        lines.append("full trace: native hooks (debugger/trace/_fulltrace.c)" if ftnative.available()
                     else f"full trace: pure-Python hooks ({ftnative.why_unavailable()})")
    except Exception as exc:  # pragma: no cover
        lines.append(f"full trace: unavailable ({exc})")
    return "\n".join(lines)


def slow_path_notice() -> str | None:
    """One line for stderr when the native fast path was not built (e.g. no C compiler when
    bootdbg was installed); None when it is there or BOOTDBG_NO_NATIVE turned it off."""
    import os

    if os.environ.get("BOOTDBG_NO_NATIVE"):
        return None
    try:
        from debugger.engine import native

        if native.available():
            return None
        why = native.why_unavailable()
    except Exception as exc:  # pragma: no cover - reported, not fatal
        why = str(exc)
    return (f"bootdbg: running the slow pure-Python path (native fast path: {why}). For the "
            "fast one install a C compiler (e.g. apt install gcc python3-dev) and reinstall "
            "bootdbg from its source: pip install --force-reinstall --no-deps <checkout>")
