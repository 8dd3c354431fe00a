"""Script constructs: source, define, document, if/else/end, while/end, loop_break/continue.

The block constructs are executed by `debugger.script.interpreter`; their registry entries make
them known to lookup (unique prefixes), help and completion.  `define`, `document` (and
`commands`, in points.py) receive their body as lines."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable

from debugger.commands import CommandError, command, find
from debugger.commands.context import UserCommand

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext, Origin


def complete_files(ctx: "CommandContext", text: str) -> Iterable[str]:
    return []          # the REPL's completer uses a path completer for this command


@command("source", category="script", completer=complete_files, usage="source FILE",
         help="Run the commands in FILE (same language as the prompt; # comments, if/while).")
def source(ctx: "CommandContext", args: str) -> None:
    path = args.strip()
    if not path:
        raise CommandError("source needs a file name")
    if ctx.interp is None:
        raise CommandError("source: no interpreter")
    ctx.interp.run_file(path)


def _block_only(name: str) -> None:
    raise CommandError(f"'{name}' must open a block closed by 'end'")


@command("if", category="script", block=True, usage="if EXPR\n  ...\n[else\n  ...]\nend",
         help="Run the block when EXPR is non-zero (else the else-part).")
def if_(ctx: "CommandContext", args: str, body: object = None) -> None:
    _block_only("if")


@command("while", category="script", block=True, usage="while EXPR\n  ...\nend",
         help="Run the block as long as EXPR is non-zero (loop_break / loop_continue inside).")
def while_(ctx: "CommandContext", args: str, body: object = None) -> None:
    _block_only("while")


@command("loop_break", category="script", usage="loop_break", help="Leave the innermost while.")
def loop_break(ctx: "CommandContext", args: str) -> None:
    raise CommandError("loop_break outside a while loop")


@command("loop_continue", category="script", usage="loop_continue",
         help="Start the next iteration of the innermost while.")
def loop_continue(ctx: "CommandContext", args: str) -> None:
    raise CommandError("loop_continue outside a while loop")


@command("end", category="script", usage="end", help="Close an if, while, define or commands "
                                                      "block.")
def end(ctx: "CommandContext", args: str) -> None:
    raise CommandError("'end' without an open block")


@command("else", category="script", usage="else", help="Start the else-part of an if block.")
def else_(ctx: "CommandContext", args: str) -> None:
    raise CommandError("'else' outside an 'if' block")


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@command("define", category="script", block=True, usage="define NAME\n  ...\nend",
         help="Define a command NAME; $arg0..$argN and $argc are its arguments.\n"
              "A command named hook-stop runs at every stop.")
def define(ctx: "CommandContext", args: str,
           body: list[tuple[str, "Origin"]] | None = None) -> None:
    name = args.strip()
    if not _NAME.match(name):
        raise CommandError(f"define needs a command name, not {name!r}")
    try:
        found = find(name)
    except CommandError:
        found = None
    if found is not None and not isinstance(found, str) and name in (found.name,
                                                                      *found.aliases):
        raise CommandError(f"cannot redefine the built-in command {name!r}")
    old = ctx.user_commands.get(name)
    ctx.user_commands[name] = UserCommand(name, list(body or []), old.doc if old else "")


@command("document", category="script", block=True, usage="document NAME\n  TEXT...\nend",
         help="Give the user-defined command NAME a help text.")
def document(ctx: "CommandContext", args: str,
             body: list[tuple[str, "Origin"]] | None = None) -> None:
    name = args.strip()
    if name not in ctx.user_commands:
        raise CommandError(f"document: {name!r} is not a user-defined command")
    ctx.user_commands[name].doc = "\n".join(t.strip() for t, _ in (body or []))
