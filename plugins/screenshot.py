"""screenshot: the VGA text screen (with its colours, as the DAC and attribute palette set them)
and the serial console, saved as SVG, PNG or HTML for a bug report.

    screenshot out.svg              screen and serial console
    screenshot out.png [screen|serial]
    screenshot out.html [screen|serial]

The text page is read from the VGA device (start address, character/attribute cells).  With
blinking enabled (attribute mode control bit 3, the default) attribute bit 7 is blink and
backgrounds use 8 colours; otherwise it selects the bright backgrounds.  The PNG draws each
cell as VGA does, 9x16 pixels with the VGA font (`debugger.machine.devices.vgafont`), the 9th
column repeating the 8th for line-graphics characters C0h-DFh, and the cursor in its scan lines.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

CW, CH = 9, 16              # cell size in pixels (VGA 9x16)
MAX_SERIAL_LINES = 2000
MARGIN = 8
FRAME, SERIAL_BG, SERIAL_FG, SERIAL_TITLE = "#303030", "#1e1e1e", "#e0e0e0", "#8ab4f8"


def setup(api: Any) -> None:
    def command(ctx: Any, args: str) -> str:
        from debugger.commands import CommandError

        words = args.split()
        if not words or len(words) > 2:
            raise CommandError("usage: screenshot FILE.svg|FILE.png|FILE.html "
                               "[screen|serial]")
        path, what = Path(words[0]), (words[1] if len(words) == 2 else "both")
        if what not in ("screen", "serial", "both"):
            raise CommandError(f"screenshot: unknown part {what!r} (screen, serial)")
        fmt = path.suffix.lower().lstrip(".")
        shot = capture(api.session)
        if fmt == "svg":
            data = to_svg(shot, what).encode("utf-8")
        elif fmt in ("html", "htm"):
            data = to_html(shot, what).encode("utf-8")
        elif fmt == "png":
            data = to_png(shot, what)
        else:
            raise CommandError(f"screenshot: unknown format {path.suffix or '(none)'!r} "
                               "(use .svg, .png or .html)")
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise CommandError(f"screenshot: {path}: {exc.strerror or exc}") from None
        return f"Saved {what if what != 'both' else 'screen and serial console'} to {path}."

    api.register_command("screenshot", command, usage="screenshot FILE.svg|FILE.png|FILE.html "
                         "[screen|serial]", help="Save the VGA text screen (with colours) and "
                         "the serial console as SVG, PNG or HTML (plugin screenshot).")


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
    mode_control = vga.attr[0x10] if len(vga.attr) > 0x10 else 0x0C
    return {"cells": cells, "palette": palette, "serial": lines, "title": title,
            "cursor": vga.cursor() if vga.cursor_visible else None,
            "cursor_shape": vga.cursor_shape(),
            "bg_mask": 7 if mode_control & 0x08 else 15,        # blink or bright backgrounds
            "line_graphics": bool(mode_control & 0x04)}


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
                bg, fg = pal[(attr >> 4) & shot["bg_mask"]], pal[attr & 15]
                x, ty = 8 + col * CW, y + r * CH
                if (attr >> 4) & shot["bg_mask"]:
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
        m = shot["bg_mask"]
        for row in shot["cells"]:
            spans = "".join(
                f'<span style="color:{pal[a & 15]};background:{pal[(a >> 4) & m]}">'
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


# -- PNG ------------------------------------------------------------------------------------------
def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


class _Raster:
    """Draws text cells of CW x CH pixels into palette-indexed scan lines."""

    def __init__(self, line_graphics: bool) -> None:
        from debugger.machine.devices.vga import CP437
        from debugger.machine.devices.vgafont import LINE_GRAPHICS, glyph

        self.glyph = glyph
        self.wide = LINE_GRAPHICS if line_graphics else range(0)
        self.code = {ch: i for i, ch in reversed(list(enumerate(CP437)))}
        self.cache: dict[tuple[int, int, int], list[bytes]] = {}

    def cell(self, code: int, fg: int, bg: int) -> list[bytes]:
        key = (code, fg, bg)
        rows = self.cache.get(key)
        if rows is None:
            rows = []
            for bits in self.glyph(code):
                ninth = bits & 1 if code in self.wide else 0
                rows.append(bytes(fg if (bits << 1 | ninth) >> (8 - i) & 1 else bg
                                  for i in range(CW)))
            self.cache[key] = rows
        return rows

    def text_row(self, cells: list[tuple[int, int, int]]) -> list[bytearray]:
        """(code, fg, bg) per cell -> CH scan lines."""
        lines = [bytearray() for _ in range(CH)]
        for code, fg, bg in cells:
            for line, pixels in zip(lines, self.cell(code, fg, bg)):
                line += pixels
        return lines


def to_png(shot: dict[str, Any], what: str = "both") -> bytes:
    from debugger.ui.png import encode_indexed

    cells = shot["cells"]
    cols = max((len(r) for r in cells), default=80)
    frame, sbg, sfg, stitle = 16, 17, 18, 19
    palette = [_rgb(c) for c in shot["palette"]] + [_rgb(c) for c in
                                                    (FRAME, SERIAL_BG, SERIAL_FG, SERIAL_TITLE)]
    width = cols * CW + 2 * MARGIN
    side = bytes([frame]) * MARGIN
    gap = [bytes([frame]) * width]
    r = _Raster(shot["line_graphics"])
    out: list[bytes] = gap * MARGIN
    if what in ("screen", "both"):
        mask = shot["bg_mask"]
        for y, row in enumerate(cells):
            codes = [(r.code.get(ch, 0x3F), a & 15, (a >> 4) & mask) for ch, a in row]
            codes += [(0x20, 7, 0)] * (cols - len(codes))
            lines = r.text_row(codes)
            if shot["cursor"] is not None and shot["cursor"][0] == y:
                cc = shot["cursor"][1]
                first, last = shot["cursor_shape"]
                fg = codes[cc][1] if cc < len(codes) else 7
                for sl in range(first, min(last, CH - 1) + 1):
                    lines[sl][cc * CW:(cc + 1) * CW] = bytes([fg]) * CW
            out += [side + bytes(ln) + side for ln in lines]
        out += gap * (12 if what == "both" else MARGIN)
    if what in ("serial", "both"):
        text = ["serial console (COM1)"]
        for line in shot["serial"]:
            line = line.expandtabs(8)
            text += [line[i:i + cols] for i in range(0, len(line), cols)] or [""]
        pad = bytes([sbg]) * 4
        for i, line in enumerate(text):
            fg = stitle if i == 0 else sfg
            codes = [(ord(c) if 32 <= ord(c) < 256 else 0x20, fg, sbg) for c in line]
            codes += [(0x20, fg, sbg)] * (cols - len(codes))
            for ln in r.text_row(codes):
                out.append(side + pad + bytes(ln)[:cols * CW - 4] + side)
        out += gap * MARGIN
    return encode_indexed(width, len(out), palette, out)
