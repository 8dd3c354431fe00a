"""The options every debugging session shares: a live image (`bootdbg IMAGE`), a recording
(`bootdbg replay TRACE`) and a gdb stub (`bootdbg gdbserver IMAGE`).

    --json OUT        the JSON report of the run (debugger.script.report)
    --fail-on KIND    catch KIND; if it fires the run ends with exit code 1 (repeatable)
    --profile P       checker profile for the context, check and catch vmx-*
    --plugin NAME     load a plugin (repeatable); one that cannot be loaded is an input error

Scripted sessions (live and replay) also take -x FILE, -ex CMD (in order), --batch,
--max-insns N, -v and -q.  `run_scripted` runs them the same way for both, so a CI script can
run over a recording exactly as over the live guest.

Exit codes: 0 the run ended normally; 1 a catchpoint marked `fail` fired; 2 a script or input
error; 130 interrupted with Ctrl-C.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from debugger.cli import UserError

__all__ = ["Ordered", "add_session_args", "add_script_args", "prepare_session", "load_plugins",
           "run_scripted", "write_json", "outcome"]


class Ordered(argparse.Action):
    """-x and -ex keep their relative order in args.actions."""

    def __call__(self, parser: Any, ns: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        acts = list(getattr(ns, "actions", None) or [])
        acts.append((self.dest, values))
        ns.actions = acts


def add_session_args(p: argparse.ArgumentParser) -> None:
    """--json, --fail-on, --profile, --plugin: every session kind."""
    p.add_argument("--json", metavar="OUT", help="write a JSON report of the run to OUT "
                                                 "(- for stdout)")
    p.add_argument("--fail-on", action="append", default=[], metavar="KIND",
                   help="catch KIND and exit with code 1 if it fires, e.g. --fail-on "
                        "vmx-invalid or --fail-on 'vmx-invalid kvm' (repeatable)")
    p.add_argument("--profile", default=None, metavar="P",
                   help="checker profile for the context, check and catch vmx-* (default vmx)")
    p.add_argument("--plugin", action="append", default=[], metavar="NAME",
                   help="load a plugin by name or path, NAME[:KEY=VALUE,...] (repeatable; "
                        "also [plugins] load = [...] in the config file)")


def add_script_args(p: argparse.ArgumentParser) -> None:
    """-x, -ex, --batch, --max-insns, -v, -q: sessions that run commands (live and replay)."""
    p.add_argument("-x", dest="x", action=Ordered, metavar="FILE",
                   help="run the commands in FILE (repeatable)")
    p.add_argument("-ex", dest="ex", action=Ordered, metavar="CMD",
                   help="run the command CMD (repeatable, in order with -x)")
    p.add_argument("--batch", action="store_true",
                   help="no prompt: exit when the commands end or the guest stops for good")
    p.add_argument("--max-insns", type=int, default=None, metavar="N",
                   help="give up after N guest instructions in all (exit reason 'budget')")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="batch runs: print the context at every stop too")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no banner and no initial context")
    p.set_defaults(actions=[])


def prepare_session(session: Any, args: argparse.Namespace) -> None:
    """Apply --profile and --fail-on to a session (bad values are input errors)."""
    from debugger.engine.session import SessionError

    try:
        if args.profile:
            session.set_profile(args.profile)
        for spec in args.fail_on:
            words = spec.replace(",", " ").split()
            if not words:
                raise UserError("--fail-on needs a catchpoint kind")
            session.catch(words[0], *words[1:], fail=True)
    except SessionError as exc:
        raise UserError(str(exc)) from None


def load_plugins(session: Any, args: argparse.Namespace,
                 error: Callable[[str], None] | None = None,
                 bind: Callable[[Any], None] | None = None) -> None:
    """Config-file plugins, then --plugin ones.  A --plugin that cannot be loaded is an input
    error (exit 2); a config-file one is reported through `error` and the session goes on."""
    from debugger.plugins import manager_for
    from debugger.plugins.config import ConfigError, configured_plugins, parse_spec
    from debugger.plugins.manager import PluginError

    try:
        configured = configured_plugins()
        given = [parse_spec(s) for s in args.plugin]
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    mgr = manager_for(session)
    if bind is not None:
        bind(mgr)
    for spec, opts in configured:
        try:
            mgr.load(spec, opts)
        except PluginError as exc:
            (error or (lambda m: print(f"bootdbg: {m}", file=sys.stderr)))(str(exc))
    for spec, opts in given:
        try:
            mgr.load(spec, opts)
        except PluginError as exc:
            raise UserError(f"--plugin {spec}: {exc}") from None


def outcome(session: Any, *, error: bool, batch: bool, failed: Any = None,
            budget: int | None = None, quit_requested: bool = False) -> tuple[int, str]:
    """(exit code, exit reason) of a session."""
    last = session.last_stop
    if error:
        return 2, "error"
    if failed is not None:
        return (1 if batch else 0), f"fail:{failed.kind}"
    if last is not None and last.kind == "interrupt" and batch:
        return 130, "interrupt"
    if last is not None and last.final:
        return 0, last.kind
    if budget is not None and budget <= 0:
        return 0, "budget"
    if quit_requested:
        return 0, "quit"
    return 0, "end-of-script" if batch else "end-of-input"


def write_json(session: Any, args: argparse.Namespace, reason: str, code: int) -> None:
    if not getattr(args, "json", None):
        return
    from debugger.script.report import build_report, write_report

    try:
        write_report(args.json, build_report(session, reason, code))
    except OSError as exc:
        raise UserError(f"--json {args.json}: {exc.strerror or exc}") from None


def run_scripted(session: Any, args: argparse.Namespace, *,
                 banner: Callable[[Any], None] | None = None,
                 tui: bool = False) -> int:
    """Run -x/-ex in order, then the prompt unless --batch; write --json; the exit code."""
    from debugger.commands.context import CommandContext
    from debugger.commands.plugin import manager as bind_manager
    from debugger.script.interpreter import Interpreter, ScriptError, SessionOver
    from debugger.ui.theme import make_console

    if args.max_insns is not None and args.max_insns < 1:
        raise UserError("--max-insns must be at least 1")
    if tui and (args.batch or not (sys.stdin.isatty() and sys.stdout.isatty())):
        raise UserError("--tui needs a terminal (and no --batch)")
    prepare_session(session, args)
    ctx = CommandContext(session, make_console(), batch=args.batch,
                         err_console=make_console(stderr=True))
    ctx.settings.verbose = args.verbose
    ctx.budget = args.max_insns
    interp = Interpreter(ctx)
    load_plugins(session, args, ctx.error, lambda _m: bind_manager(ctx))
    error = False
    interactive = not args.batch
    if interactive and not args.quiet and not tui and banner is not None:
        banner(ctx)
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

        if tui:
            from debugger.ui.tui.app import run_tui

            run_tui(ctx, interp)
        if ctx.quit_requested:
            pass
        elif sys.stdin.isatty():
            run_prompt(ctx, interp)
        else:
            run_pipe(ctx, interp, sys.stdin)
    code, reason = outcome(session, error=error, batch=args.batch, failed=ctx.failed,
                           budget=ctx.budget, quit_requested=ctx.quit_requested)
    write_json(session, args, reason, code)
    return code
