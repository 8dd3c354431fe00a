"""VM-entry checks: `check [PROFILE]` (the full report for the current state), `profile NAME`."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from debugger.commands import CommandError, command

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext


def complete_profiles(ctx: "CommandContext", text: str) -> Iterable[str]:
    try:
        from debugger.checks import PROFILES
    except ImportError:
        return []
    return list(PROFILES)


def verdict_report(verdict: Any) -> Any:
    """The checker's own rich report if it has one, else a table of the violations."""
    try:
        from debugger.ui import check_report
    except ImportError:
        check_report = None       # type: ignore[assignment]
    if check_report is not None:
        for name in ("render_verdict", "render", "render_report", "report"):
            fn = getattr(check_report, name, None)
            if callable(fn):
                return fn(verdict)
    return _fallback_report(verdict)


def _fallback_report(v: Any) -> Any:
    head = Text(f"profile {v.profile}: ", style="heading")
    if v.ok:
        head.append("VM entry would succeed (no violations)", style="ok")
    else:
        head.append(f"VM entry would fail: {len(v.violations)} violation(s)", style="bad")
    parts: list[Any] = [head]
    if v.violations:
        t = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="heading")
        for c in ("rule", "register", "field", "actual", "required", "why", "SDM"):
            t.add_column(c, no_wrap=c in ("rule", "register", "field"))
        for x in v.violations:
            t.add_row(Text(str(x.rule), style="rule.id"), str(x.register or ""),
                      str(x.field or ""), _fmt(x.actual), _fmt(x.required), str(x.text or ""),
                      str(getattr(x, "sdm", "") or ""))
        parts.append(t)
    nm = getattr(v, "not_modelled", ())
    if nm:
        parts.append(Text("not modelled: " + ", ".join(map(str, nm)), style="muted"))
    return Group(*parts)


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "" if v is None else str(v)
    if isinstance(v, int):
        return f"{v:#x}"
    return str(v)


@command("check", category="check", completer=complete_profiles, usage="check [PROFILE]",
         help="Judge the current state as a VMCS guest-state area: every rule a VM entry would\n"
              "check under PROFILE (default: the current profile), with SDM references.")
def check(ctx: "CommandContext", args: str) -> Any:
    words = args.split()
    if len(words) > 1:
        raise CommandError("usage: check [PROFILE]")
    verdict = ctx.session.check(words[0] if words else None)
    return verdict_report(verdict)


@command("profile", category="check", completer=complete_profiles, usage="profile [NAME]",
         help="Show or choose the checker profile used by the context, check and catch vmx-*.")
def profile(ctx: "CommandContext", args: str) -> str:
    name = args.strip()
    if not name:
        try:
            from debugger.checks import PROFILES
            others = ", ".join(PROFILES)
        except ImportError:
            others = "(checker not available)"
        return f"Checker profile: {ctx.session.profile} (available: {others})"
    ctx.session.set_profile(name)
    return f"Checker profile: {name}"
