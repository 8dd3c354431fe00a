"""screenshot: the VGA text screen (with its colours, as the DAC and attribute palette set them)
and the serial console, saved as SVG or HTML for a bug report.

    screenshot out.svg              screen and serial console
    screenshot out.html [screen|serial]
    screenshot out.png              needs Pillow (not a bootdbg dependency): use SVG or HTML

The 80x25 text page is read from the VGA device (start address, character/attribute cells);
attribute bit 7 is blink (the default attribute mode), so backgrounds use 8 colours.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

CW, CH = 9, 16              # cell size in pixels (VGA 9x16)
MAX_SERIAL_LINES = 2000


def setup(api: Any) -> None:
    def command(ctx: Any, args: str) -> str:
        from debugger.commands import CommandError

        words = args.split()
        if not words or len(words) > 2:
            raise CommandError("usage: screenshot FILE.svg|FILE.html [screen|serial]")
        path, what = Path(words[0]), (words[1] if len(words) == 2 else "both")
        if what not in ("screen", "serial", "both"):
            raise CommandError(f"screenshot: unknown part {what!r} (screen, serial)")
        fmt = path.suffix.lower().lstrip(".")
        shot = capture(api.session)
        if fmt == "svg":
            text = to_svg(shot, what)
        elif fmt in ("html", "htm"):
            text = to_html(shot, what)
        elif fmt == "png":
            raise CommandError("screenshot: PNG needs Pillow, which bootdbg does not install; "
                               "save as .svg or .html")
        else:
            raise CommandError(f"screenshot: unknown format {path.suffix or '(none)'!r} "
                               "(use .svg or .html)")
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"screenshot: {path}: {exc.strerror or exc}") from None
        return f"Saved {what if what != 'both' else 'screen and serial console'} to {path}."

    api.register_command("screenshot", command, usage="screenshot FILE.svg|FILE.html "
                         "[screen|serial]", help="Save the VGA text screen (with colours) and "
                         "the serial console as SVG or HTML (plugin screenshot).")


def capture(session: Any) -> dict[str, Any]:
    vga = session.machine.devices.vga
    cells = vga.screen_cells()
    palette = []
    for i in range(16):
        idx = vga.attr[i] & 0x3F if i < len(vga.attr) else i
        r, g, b = (vga.dac[idx * 3 + k] & 0x3F for k in range(3))
        palette.append(f"#{r * 255 // 63:02x}{g * 255 // 63:02x}{b * 255 // 63:02x}")
    serial = session.serial.decode("latin-1").replace("\r", "")
    lines = serial.split("\n")
    if len(lines) > MAX_SERIAL_LINES:
        lines = [f"[... {len(lines) - MAX_SERIAL_LINES} earlier lines]"] + \
            lines[-MAX_SERIAL_LINES:]
    st = session.state()
    title = (f"{session.image_path} — icount {session.icount}, "
             f"{st.cs.selector:04x}:{st.rip:x} ({st.mode.value})")
    return {"cells": cells, "palette": palette, "serial": lines, "title": title,
            "cursor": vga.cursor() if vga.cursor_visible else None}


def _runs(row: list[tuple[str, int]]) -> list[tuple[int, str, int]]:
    out: list[tuple[int, str, int]] = []
    for col, (ch, attr) in enumerate(row):
        if out and out[-1][2] == attr and out[-1][0] + len(out[-1][1]) == col:
            out[-1] = (out[-1][0], out[-1][1] + ch, attr)
        else:
            out.append((col, ch, attr))
    return out


def _printable(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 or ord(c) >= 160 else " " for c in text)


def to_svg(shot: dict[str, Any], what: str = "both") -> str:
    pal, cells = shot["palette"], shot["cells"]
    cols = max((len(r) for r in cells), default=80)
    width = cols * CW + 16
    parts: list[str] = []
    y = 8
    if what in ("screen", "both"):
        h = len(cells) * CH
        parts.append(f'<rect x="8" y="{y}" width="{cols * CW}" height="{h}" fill="{pal[0]}"/>')
        for r, row in enumerate(cells):
            for col, text, attr in _runs(row):
                bg, fg = pal[(attr >> 4) & 7], pal[attr & 15]
                x, ty = 8 + col * CW, y + r * CH
                if (attr >> 4) & 7:
                    parts.append(f'<rect x="{x}" y="{ty}" width="{len(text) * CW}" '
                                 f'height="{CH}" fill="{bg}"/>')
                if text.strip():
                    parts.append(f'<text x="{x}" y="{ty + 12}" fill="{fg}" '
                                 f'textLength="{len(text) * CW}">'
                                 f'{html.escape(_printable(text))}</text>')
        if shot["cursor"] is not None:
            cr, cc = shot["cursor"]
            parts.append(f'<rect x="{8 + cc * CW}" y="{y + cr * CH + 13}" width="{CW}" '
                         f'height="2" fill="{pal[7]}"/>')
        y += h + 12
    if what in ("serial", "both"):
        lines = shot["serial"]
        h = (len(lines) + 1) * CH
        parts.append(f'<rect x="8" y="{y}" width="{cols * CW}" height="{h}" fill="#1e1e1e"/>')
        parts.append(f'<text x="12" y="{y + 12}" fill="#8ab4f8">serial console (COM1)</text>')
        for i, line in enumerate(lines, 1):
            if line:
                parts.append(f'<text x="12" y="{y + i * CH + 12}" fill="#e0e0e0">'
                             f'{html.escape(_printable(line))}</text>')
        y += h + 8
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" '
            f'viewBox="0 0 {width} {y}" font-family="DejaVu Sans Mono, Consolas, monospace" '
            f'font-size="14" xml:space="preserve"><title>{html.escape(shot["title"])}</title>'
            f'<rect width="{width}" height="{y}" fill="#303030"/>')
    return head + "".join(parts) + "</svg>\n"


def to_html(shot: dict[str, Any], what: str = "both") -> str:
    pal = shot["palette"]
    body: list[str] = [f"<h1>{html.escape(shot['title'])}</h1>"]
    if what in ("screen", "both"):
        rows = []
        for row in shot["cells"]:
            spans = "".join(
                f'<span style="color:{pal[a & 15]};background:{pal[(a >> 4) & 7]}">'
                f"{html.escape(_printable(t))}</span>" for _, t, a in _runs(row))
            rows.append(spans)
        body.append('<pre class="screen">' + "\n".join(rows) + "</pre>")
    if what in ("serial", "both"):
        body.append("<h2>serial console (COM1)</h2><pre class=\"serial\">"
                    + html.escape("\n".join(shot["serial"])) + "</pre>")
    style = ("body{background:#303030;color:#e0e0e0;font-family:sans-serif}"
             "pre{font-family:'DejaVu Sans Mono',Consolas,monospace;font-size:14px;"
             "line-height:16px;display:inline-block;padding:4px}"
             f"pre.screen{{background:{pal[0]}}}pre.serial{{background:#1e1e1e;display:block}}")
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>"
            f"{html.escape(shot['title'])}</title><style>{style}</style></head><body>"
            + "".join(body) + "</body></html>\n")
