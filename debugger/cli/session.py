"""`bootdbg [IMAGE] [-x FILE] [-ex CMD]... [--batch] [--json OUT] [--fail-on KIND]... [--tui]`

The interactive debugger (the default subcommand).  It opens the image stopped before the first
instruction at 0000:7C00, runs the `-x` files and `-ex` commands in the order given, then gives
the prompt -- prompt_toolkit on a terminal, plain line reading when stdin is a pipe.

With --batch it runs without a terminal and ends when the commands end or the guest stops for
good (with no commands at all it continues until then).  Exit codes: 0 the run ended normally;
1 a catchpoint marked `fail` (--fail-on KIND, `catch ... fail`) fired; 2 a script or input error;
130 interrupted with Ctrl-C.  --json OUT writes the report (`debugger.script.report`).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from debugger.cli import UserError
from debugger.cli._machine import add_machine_args, config_from_args, disks_from_args

NAME = "session"
HELP = "debug a boot image interactively or from scripts (the default: bootdbg [IMAGE])"


class _Ordered(argparse.Action):
    """-x and -ex keep their relative order in args.actions."""

    def __call__(self, parser: Any, ns: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        acts = list(getattr(ns, "actions", None) or [])
        acts.append((self.dest, values))
        ns.actions = acts


def register(p: argparse.ArgumentParser) -> None:
    add_machine_args(p, image_optional=True)
    p.add_argument("-x", dest="x", action=_Ordered, metavar="FILE",
                   help="run the commands in FILE (repeatable)")
    p.add_argument("-ex", dest="ex", action=_Ordered, metavar="CMD",
                   help="run the command CMD (repeatable, in order with -x)")
    p.add_argument("--batch", action="store_true",
                   help="no prompt: exit when the commands end or the guest stops for good")
    p.add_argument("--json", metavar="OUT", help="write a JSON report of the run to OUT")
    p.add_argument("--fail-on", action="append", default=[], metavar="KIND",
                   help="catch KIND and exit with code 1 if it fires, e.g. --fail-on "
                        "vmx-invalid or --fail-on 'vmx-invalid kvm' (repeatable)")
    p.add_argument("--profile", default=None, metavar="P",
                   help="checker profile for the context, check and catch vmx-* (default vmx)")
    p.add_argument("--max-insns", type=int, default=None, metavar="N",
                   help="give up after N guest instructions in all (exit reason 'budget')")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="batch runs: print the context at every stop too")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no banner and no initial context")
    p.add_argument("--tui", action="store_true",
                   help="start in the full-screen TUI (F1 or q goes to the prompt)")
    p.add_argument("--plugin", action="append", default=[], metavar="NAME",
                   help="load a plugin by name or path, NAME[:KEY=VALUE,...] (repeatable; "
                        "also [plugins] load = [...] in the config file)")
    p.set_defaults(func=run, actions=[])


def _open(args: argparse.Namespace) -> Any:
    from debugger.engine.session import Session, SessionError
    from debugger.images import demo_image

    disks, boot = disks_from_args(args, args.image or str(demo_image()))
    try:
        session = Session(disks=disks, config=config_from_args(args, boot))
        if args.profile:
            session.set_profile(args.profile)
        for spec in args.fail_on:
            words = spec.replace(",", " ").split()
            if not words:
                raise UserError("--fail-on needs a catchpoint kind")
            session.catch(words[0], *words[1:], fail=True)
    except SessionError as exc:
        raise UserError(str(exc)) from None
    return session


def run(args: argparse.Namespace) -> int:
    from debugger.commands.context import CommandContext
    from debugger.script.interpreter import Interpreter, ScriptError, SessionOver
    from debugger.ui.theme import make_console

    if args.max_insns is not None and args.max_insns < 1:
        raise UserError("--max-insns must be at least 1")
    session = _open(args)
    ctx = CommandContext(session, make_console(), batch=args.batch,
                         err_console=make_console(stderr=True))
    ctx.settings.verbose = args.verbose
    ctx.budget = args.max_insns
    interp = Interpreter(ctx)
    _load_plugins(ctx, args)
    error = False
    interactive = not args.batch
    if args.tui and (args.batch or not (sys.stdin.isatty() and sys.stdout.isatty())):
        raise UserError("--tui needs a terminal (and no --batch)")
    if interactive and not args.quiet and not args.tui:
        _banner(ctx, args)
    try:
        for n, (kind, value) in enumerate(args.actions, 1):
            try:
                if kind == "x":
                    interp.run_file(value)
                else:
                    interp.run_lines([(value, ("-ex", n))])
            except ScriptError as exc:
                ctx.error(str(exc))
                if args.batch:
                    error = True
                    break
        if args.batch and not args.actions and not error:
            while not ctx.should_end() and not ctx.guest_ended:
                last = session.last_stop
                if last is not None and last.kind == "interrupt":
                    break
                interp.execute_line("continue")
    except SessionOver:
        pass
    except ScriptError as exc:
        ctx.error(str(exc))
        error = True
    if interactive and not ctx.quit_requested:
        from debugger.ui.repl import run_pipe, run_prompt

        if args.tui:
            from debugger.ui.tui.app import run_tui

            run_tui(ctx, interp)
        if ctx.quit_requested:
            pass
        elif sys.stdin.isatty():
            run_prompt(ctx, interp)
        else:
            run_pipe(ctx, interp, sys.stdin)
    code, reason = _outcome(ctx, error, args.batch)
    if args.json:
        from debugger.script.report import build_report, write_report

        try:
            write_report(args.json, build_report(session, reason, code))
        except OSError as exc:
            raise UserError(f"--json {args.json}: {exc.strerror or exc}") from None
    return code


def _load_plugins(ctx: Any, args: argparse.Namespace) -> None:
    """Config-file plugins, then --plugin ones; one that fails is reported and the run goes on."""
    from debugger.commands import CommandError
    from debugger.commands.plugin import load_into
    from debugger.plugins.config import ConfigError, configured_plugins, parse_spec

    try:
        wanted = configured_plugins() + [parse_spec(s) for s in args.plugin]
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    for spec, opts in wanted:
        try:
            load_into(ctx, spec, opts)
        except CommandError as exc:
            ctx.error(str(exc))


def _outcome(ctx: Any, error: bool, batch: bool) -> tuple[int, str]:
    last = ctx.session.last_stop
    if error:
        return 2, "error"
    if ctx.failed is not None:
        return (1 if batch else 0), f"fail:{ctx.failed.kind}"
    if last is not None and last.kind == "interrupt" and batch:
        return 130, "interrupt"
    if last is not None and last.final:
        return 0, last.kind
    if ctx.budget is not None and ctx.budget <= 0:
        return 0, "budget"
    if ctx.quit_requested:
        return 0, "quit"
    return 0, "end-of-script" if batch else "end-of-input"


def _banner(ctx: Any, args: argparse.Namespace) -> None:
    from debugger import __version__

    s = ctx.session
    st = s.state()
    ctx.print(f"bootdbg {__version__} — {s.image_path}: stopped before the first instruction "
              f"at {st.cs.selector:04x}:{st.rip & 0xFFFF:04x}. Type help for commands.",
              style="heading")
    ctx.show_context()
