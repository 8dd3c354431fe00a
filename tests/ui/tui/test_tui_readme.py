"""The README's text capture of the TUI is what the TUI shows today.

The capture is the screen of `bootdbg --tui images/vm86.img` at 120x40 with NO_COLOR after
`record`, `catch vm86 enter`, F5, and the vm86 entry selected in the event timeline.  When the
TUI changes, regenerate it with `python tests/ui/tui/test_tui_readme.py` and paste it into the
README's "Full-screen TUI" section.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tests.ui.tui.driver import run_tui  # noqa: E402


def capture() -> list[str]:
    import os

    from debugger.images import image_path

    img = image_path("vm86")
    if not img.exists():
        import pytest

        pytest.skip("demo image vm86 not built")
    os.environ["NO_COLOR"] = "1"
    out: list[str] = []

    async def scenario(t):
        await t.command("record")
        await t.command("catch vm86 enter")
        t.send("F5")
        await t.settle()
        tl = t.tui.view.timeline
        i = next(n for n, e in enumerate(tl) if e.kind == "vm86-enter")
        t.tui.focus_pane("events")
        t.send(*(["Up"] * (len(tl) - 1 - i)))
        await t.wait_for(lambda: t.tui.state.selected_event == i)
        out.extend(t.screen().splitlines())
    try:
        run_tui(img, scenario, width=120, height=40)
    finally:
        os.environ.pop("NO_COLOR", None)
    return out


def readme_capture() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"is what the TUI shows\):\n\n```\n(.*?)\n```", text, re.S)
    assert m, "the README has no TUI capture"
    return m.group(1).splitlines()


def test_readme_capture_is_current():
    got = [ln.rstrip() for ln in capture()]
    want = [ln.rstrip() for ln in readme_capture()]
    assert got == want, ("the README's TUI capture is out of date; regenerate it with "
                         "`python tests/ui/tui/test_tui_readme.py`:\n" + "\n".join(got))


if __name__ == "__main__":
    print("\n".join(ln.rstrip() for ln in capture()))
