"""The `bootdbg` command line.

`bootdbg SUBCOMMAND ...` dispatches to a module in this package; each subcommand module defines
`NAME`, `HELP` and `register(parser)` (add arguments, set `func`).  `bootdbg [IMAGE] [options]`
without a subcommand opens the interactive debugger.  Every error the user can cause ends in one
line on stderr and a non-zero exit code, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Callable, Sequence

__all__ = ["main", "UserError"]


class UserError(Exception):
    """An error caused by the user's input: printed as one line, exit code `code`."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def _subcommands() -> dict[str, object]:
    mods = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        name = getattr(mod, "NAME", None)
        if name:
            mods[name] = mod
    return mods


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    from debugger import __version__

    parser = argparse.ArgumentParser(
        prog="bootdbg", description="A debugger for x86 boot code.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true", help="show version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # (after add_subparsers, which derives the subcommands' "usage: bootdbg NAME" from it)
    parser.usage = ("bootdbg [IMAGE] [options]       debug IMAGE at the prompt (session options "
                    "below)\n       bootdbg COMMAND [args]          see bootdbg COMMAND --help")
    mods = _subcommands()
    for name, mod in sorted(mods.items()):
        p = sub.add_parser(name, help=getattr(mod, "HELP", ""),
                           description=getattr(mod, "HELP", ""))
        mod.register(p)  # type: ignore[attr-defined]
        if name == "session":
            parser.epilog = _session_epilog(p)
    parser.set_defaults(version_text=f"bootdbg {__version__}")
    return parser, mods


def _session_epilog(session: argparse.ArgumentParser) -> str:
    """The session's options for the top-level --help (as gdb --help lists -x, -ex, --batch):
    `bootdbg IMAGE -x FILE` is what most users type, so they belong on the first page."""
    fmt = session._get_formatter()
    fmt.start_section("session options (bootdbg [IMAGE] [options], as bootdbg session --help)")
    fmt.add_arguments([a for g in session._action_groups for a in g._group_actions
                       if not isinstance(a, argparse._HelpAction)])
    fmt.end_section()
    return fmt.format_help().strip("\n")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, mods = build_parser()
    # `bootdbg [IMAGE] [options]` without a subcommand is the interactive session.
    if "session" in mods and (not argv or (argv[0] not in mods and argv[0] not in (
            "-h", "--help", "--version"))):
        argv = ["session", *argv]
    args = parser.parse_args(argv)
    if args.version:
        from debugger import version_report
        print(version_report())
        return 0
    func: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    if args.command != "check":
        from debugger import slow_path_notice

        note = slow_path_notice()          # once: this process's only such line
        if note:
            print(note, file=sys.stderr)
    try:
        return int(func(args) or 0)
    except UserError as exc:
        print(f"bootdbg: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("bootdbg: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
