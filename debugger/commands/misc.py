"""Support commands: help, quit, context, screen (VGA text), serial."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from rich.console import Group
from rich.text import Text

from debugger.commands import CATEGORIES, CommandError, all_commands, command, find

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext


def complete_commands(ctx: "CommandContext", text: str) -> Iterable[str]:
    from debugger.commands import names

    return names() + list(ctx.user_commands)


@command("help", aliases=["h"], category="misc", completer=complete_commands,
         usage="help [COMMAND]", help="List the commands, or explain one.")
def help_(ctx: "CommandContext", args: str) -> Any:
    word = args.strip()
    if word:
        if word == "info" or word.startswith("info "):
            from debugger.commands.info import _info_help

            sub = word[5:].strip()
            if sub:
                from debugger.commands.info import _SUBS, resolve_sub

                name = resolve_sub(sub)
                return f"info {name}: {_SUBS[name][1]}"
            return "info WHAT [ARGS]\n" + _info_help()
        c = find(word, ctx.user_commands)
        if isinstance(c, str):
            uc = ctx.user_commands[c]
            return f"{c}: user-defined command\n" + (uc.doc or "\n".join(t for t, _ in uc.body))
        text = Text()
        text.append(c.usage, style="heading")
        if c.aliases:
            text.append(f"   (aliases: {', '.join(c.aliases)})", style="muted")
        text.append("\n" + c.help.strip())
        return text
    from rich import box
    from rich.table import Table

    parts: list[Any] = []
    cmds = all_commands()
    for cat, title in CATEGORIES.items():
        mine = [c for c in cmds if c.category == cat]
        if not mine:
            continue
        parts.append(Text(title, style="heading"))
        t = Table(box=box.SIMPLE, show_header=False, show_edge=False, pad_edge=False,
                  padding=(0, 1, 0, 2))
        t.add_column(style="reg.name", max_width=28, overflow="fold")
        t.add_column(overflow="fold")        # the summary wraps under itself, never cut
        for c in mine:
            t.add_row(c.name + (f" ({', '.join(c.aliases)})" if c.aliases else ""),
                      summary_of(c.help))
        parts.append(t)
    if ctx.user_commands:
        parts.append(Text("User-defined: " + ", ".join(sorted(ctx.user_commands)),
                          style="heading"))
    parts.append(Text('Unique prefixes work; Enter repeats step/next/x; "help CMD" for more.',
                      style="muted"))
    return Group(*parts)


def summary_of(help_text: str) -> str:
    """The first sentence of a command's help (it may span lines), for the command list."""
    para = " ".join(ln.strip() for ln in help_text.strip().split("\n\n", 1)[0].splitlines())
    for i, ch in enumerate(para):
        if ch == "." and (i + 1 == len(para) or para[i + 1] == " ") and \
                not para[max(0, i - 3):i + 1].endswith(("e.g.", "i.e.")):
            return para[:i + 1]
    return para


@command("quit", aliases=["q", "exit"], category="misc", usage="quit",
         help="Leave the debugger (a batch run ends with its exit code).")
def quit_(ctx: "CommandContext", args: str) -> None:
    if args.strip():
        raise CommandError("quit takes no arguments")
    ctx.quit_requested = True


@command("context", aliases=["ctx"], category="misc", usage="context",
         help="Print the context again (registers, segments, control registers, code, stack,"
              " events).")
def context(ctx: "CommandContext", args: str) -> None:
    ctx.show_context()


@command("screen", category="misc", usage="screen",
         help="Show the VGA text screen as it looks: all of it (80x25 in mode 3), framed.\n"
              "A terminal too narrow for the frame gets the rows between two rules.")
def screen(ctx: "CommandContext", args: str) -> Any:
    if args.strip():
        raise CommandError("screen takes no arguments")
    lines = ctx.session.screen()
    vga = getattr(getattr(ctx.session.machine, "devices", None), "vga", None)
    cols = max([int(getattr(vga, "cols", 80) or 80)] + [len(ln) for ln in lines])
    title = f" screen {cols}x{len(lines)} "
    from debugger.ui.progress import real_tty

    if real_tty(ctx.console.file) and ctx.console.width < cols + 2:
        rule = "─" * max(0, min(cols, ctx.console.width) - len(title) - 2)
        body = [f"──{title}{rule}"] + [ln.rstrip() for ln in lines] + \
            ["─" * min(cols, ctx.console.width)]
    else:
        body = [f"┌─{title}" + "─" * (cols - len(title) - 1) + "┐"] + \
            [f"│{ln.ljust(cols)}│" for ln in lines] + ["└" + "─" * cols + "┘"]
    return Text("\n".join(body), no_wrap=True, overflow="ignore")


@command("serial", category="misc", usage="serial",
         help="Show what the guest wrote to COM1.")
def serial(ctx: "CommandContext", args: str) -> Any:
    data = ctx.session.serial
    if not data:
        return "(no serial output)"
    out = []
    for b in data:
        out.append(chr(b) if b in (9, 10) or 32 <= b < 127 else "" if b == 13 else
                   f"\\x{b:02x}")
    return Text("".join(out))
