"""A plugin's pane in the TUI: a tab beside the code pane while the plugin is loaded."""
from __future__ import annotations

from tests.plugins.conftest import IMAGES
from tests.ui.tui.driver import run_tui

PLUGIN = '''
def setup(api):
    def pane(view, width):
        st = view.state
        return f"icount {view.icount}: CS={st.cs.selector:04x} IP={st.rip:04x} ({st.mode.value})"
    api.register_pane("ipwatch", pane, order=500, title="where am I")
'''


def test_plugin_pane_is_a_tab_and_renders_the_context(tmp_path):
    p = tmp_path / "ipwatch.py"
    p.write_text(PLUGIN)

    async def scenario(t):
        await t.command(f"plugin load {p}")
        await t.command("stepi 3")
        st = t.tui.ctx.session.state()
        tabs = next(ln for ln in t.screen().splitlines() if ln.startswith("─ code"))
        assert "events  ipwatch" in tabs                  # a tab beside code, regs, ...
        while t.tui.state.focus != "ipwatch":
            t.send("Tab")
            await t.settle()
        s = t.screen()
        assert "where am I" in s
        n = t.tui.ctx.session.icount
        assert n > 0 and f"icount {n}: CS={st.cs.selector:04x} IP={st.rip:04x} (real)" in s, s
        while t.tui.state.focus != "cmdline":
            t.send("Tab")
            await t.settle()
        await t.command("plugin unload ipwatch")
        s = t.screen()
        tabs = next(ln for ln in s.splitlines() if ln.startswith("─ code"))
        assert "ipwatch" not in tabs and "where am I" not in s and f"icount {n}: CS" not in s
        assert "Unloaded plugin ipwatch" in s
        assert t.tui.state.focus in ("cmdline", "code")
    run_tui(IMAGES / "hello.img", scenario, width=100, height=30)
