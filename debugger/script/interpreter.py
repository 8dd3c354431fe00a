"""The command-language interpreter shared by the REPL, `-x FILE`, `-ex CMD` and `source`.

Lines go in one at a time (`feed`) or as a file (`run_file`); block constructs are collected
until their `end` and then executed.  Errors carry their position (`FILE:LINE: message`) and
are raised as `ScriptError`; the caller decides whether the session goes on (interactive) or
ends with exit code 2 (batch).  After every command the breakpoint command lists queued by stops
run (gdb semantics: a command that resumes the guest ends the list), and when the run is over
(quit, a `fail` catchpoint or the guest stopped for good in batch mode) `SessionOver` unwinds.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from debugger.commands import Command, CommandError, SessionOver, find, split_command
from debugger.commands.completion import candidates, completes_paths
from debugger.engine.session import SessionError
from debugger.script.parser import (
    Collector, If, Line, Node, RawBlock, ScriptError, Simple, While, classify, located, parse,
)

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext, Origin

__all__ = ["Interpreter", "ScriptError", "SessionOver"]

MAX_DEPTH = 64


class _LoopBreak(Exception):
    pass


class _LoopContinue(Exception):
    pass


class Interpreter:
    def __init__(self, ctx: "CommandContext") -> None:
        self.ctx = ctx
        ctx.interp = self
        self._collector: Collector | None = None
        self._draining = False
        self._depth = 0
        self._loops = 0
        self.last: tuple[Command, str] | None = None     # the last repeatable command

    # -- feeding --------------------------------------------------------------------------------
    @property
    def pending(self) -> bool:
        """True while a block is open (the REPL shows a continuation prompt)."""
        return self._collector is not None

    def cancel(self) -> None:
        self._collector = None

    def feed(self, text: str, origin: "Origin" = None) -> None:
        line = Line(text.rstrip("\r\n"), origin)
        if self._collector is not None:
            if self._collector.add(line):
                lines, self._collector = self._collector.lines, None
                self.execute(parse(lines))
            return
        c = classify(line.text)
        if c is not None and c[0] not in ("end", "else"):
            self._collector = Collector(line)
            return
        self.execute(parse([line]))

    def finish(self) -> None:
        """End of input: an open block is an error."""
        if self._collector is not None:
            first = self._collector.lines[0]
            self._collector = None
            word = first.text.strip().split()[0]
            raise ScriptError(located(first.origin, f"'{word}' has no matching 'end'"))

    def run_lines(self, lines: Iterable[tuple[str, "Origin"]]) -> None:
        """Run a whole script (its own block state, so a file cannot leave a block open)."""
        saved, self._collector = self._collector, None
        try:
            for text, origin in lines:
                self.feed(text, origin)
            self.finish()
        finally:
            self._collector = saved

    def run_file(self, path: str | Path) -> None:
        from debugger.userfile import SCRIPT_CAP, read_capped

        p = Path(os.path.expanduser(str(path)))
        text = read_capped(p, SCRIPT_CAP, what="script", error=ScriptError).decode(
            "utf-8", errors="replace")
        if self._depth >= MAX_DEPTH:
            raise ScriptError(f"{path}: scripts nested more than {MAX_DEPTH} deep")
        self._depth += 1
        try:
            self.run_lines((t, (str(path), n)) for n, t in enumerate(text.splitlines(), 1))
        finally:
            self._depth -= 1

    # -- executing ------------------------------------------------------------------------------
    def execute(self, nodes: list[Node]) -> None:
        for node in nodes:
            self._node(node)

    def _node(self, node: Node) -> None:
        if isinstance(node, Simple):
            self.execute_line(node.line.text, node.line.origin)
        elif isinstance(node, If):
            branch = node.then if self._cond(node.cond, node.origin) else node.orelse
            self.execute(branch)
        elif isinstance(node, While):
            self._while(node)
        elif isinstance(node, RawBlock):
            self._raw(node)

    def _cond(self, text: str, origin: "Origin", parsed: object = None) -> bool:
        """Evaluate an if/while condition (`parsed`: already compiled, as a loop does once)."""
        try:
            return bool(self.ctx.session.eval(parsed if parsed is not None else text))
        except SessionError as exc:
            raise ScriptError(located(origin, str(exc))) from None

    def _parse_cond(self, text: str, origin: "Origin") -> object:
        try:
            return self.ctx.session.parse(text)
        except SessionError as exc:
            raise ScriptError(located(origin, str(exc))) from None

    def _while(self, node: While) -> None:
        limit = self.ctx.settings.max_iterations
        n = 0
        cond = self._parse_cond(node.cond, node.origin)      # parsed once, evaluated each time
        self._loops += 1
        try:
            while self._cond(node.cond, node.origin, cond):
                n += 1
                refused = self.ctx.refused_runs
                if n > limit:
                    raise ScriptError(located(node.origin, f"while loop gave up after {limit} "
                                                           "iterations (set max_iterations N)"))
                try:
                    self.execute(node.body)
                except _LoopBreak:
                    break
                except _LoopContinue:
                    pass
                if self.ctx.refused_runs != refused:
                    break          # the guest stopped for good: the loop cannot progress
        finally:
            self._loops -= 1

    def _raw(self, node: RawBlock) -> None:
        cmd = find(node.kind)
        assert not isinstance(cmd, str)
        try:
            cmd.fn(self.ctx, node.args, body=[(ln.text, ln.origin) for ln in node.body])
        except (CommandError, SessionError) as exc:
            raise ScriptError(located(node.origin, str(exc))) from None

    def execute_line(self, text: str, origin: "Origin" = None) -> None:
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            return
        if stripped in ("loop_break", "loop_continue"):
            if not self._loops:
                raise ScriptError(located(origin, f"{stripped} outside a while loop"))
            raise _LoopBreak() if stripped == "loop_break" else _LoopContinue()
        try:
            self._dispatch(stripped)
        except (ScriptError, SessionOver, _LoopBreak, _LoopContinue, KeyboardInterrupt):
            raise
        except (CommandError, SessionError) as exc:
            raise ScriptError(located(origin, str(exc))) from None
        except RecursionError:
            raise ScriptError(located(origin, "commands nested too deeply")) from None
        except Exception as exc:         # a bug must still be one line, with its position
            if os.environ.get("BOOTDBG_DEBUG"):
                raise
            raise ScriptError(located(origin, f"internal error: {type(exc).__name__}: {exc}")
                              ) from None
        self.drain()
        if self.ctx.should_end():
            raise SessionOver()

    def _dispatch(self, text: str) -> None:
        name, args = split_command(text)
        cmd = find(name, self.ctx.user_commands)
        if isinstance(cmd, str):
            self.run_user_command(cmd, args)
            return
        if cmd.block or name in ("end", "else"):
            raise CommandError(f"'{name}' is only allowed at the start or end of a block")
        result = cmd.fn(self.ctx, args)
        if result is not None:
            self.ctx.print(result)
        if cmd.repeatable:
            self.last = (cmd, args)

    def repeat_last(self) -> None:
        """Enter on an empty line: repeat the last step/next/x (x continues where it stopped)."""
        if self.last is None:
            return
        cmd, args = self.last
        self.execute_line(f"{cmd.name}" + ("" if cmd.name == "x" or cmd.name == "xp"
                                            else f" {args}" if args else ""))

    def type_line(self, line: str) -> None:
        """A line typed at the prompt: fed like any other; after a command that does not repeat
        (p, info, ...) Enter then repeats nothing."""
        self.feed(line)
        if self.pending:
            return
        try:
            cmd = find(split_command(line.strip())[0], self.ctx.user_commands)
        except CommandError:
            return
        if isinstance(cmd, str) or not cmd.repeatable:
            self.last = None

    def complete(self, text: str) -> tuple[list[str], str]:
        """TAB: (candidates, the word they complete) for the text before the cursor."""
        return candidates(self.ctx, text)

    def completes_paths(self, text: str) -> bool:
        """TAB: whether the word before the cursor is a file name."""
        return completes_paths(self.ctx, text)

    # -- user commands and breakpoint command lists --------------------------------------------
    def run_user_command(self, name: str, args: str) -> None:
        uc = self.ctx.user_commands[name]
        argv = _split_args(args)
        if self._depth >= MAX_DEPTH:
            raise CommandError(f"user command {name!r} nested more than {MAX_DEPTH} deep")
        self._depth += 1
        try:
            lines = [Line(_substitute(t, argv), o) for t, o in uc.body]
            self.execute(parse(lines))
        finally:
            self._depth -= 1

    def drain(self) -> None:
        """Run the command lists of the points the last stops hit (not re-entrantly)."""
        if self._draining:
            return
        self._draining = True
        try:
            while self.ctx.pending_commands:
                texts, _ev = self.ctx.pending_commands.pop(0)
                stops = len(self.ctx.session.stops)
                nodes = parse([Line(t, None) for t in texts])
                for node in nodes:
                    self._node(node)
                    if len(self.ctx.session.stops) != stops:
                        break          # the list resumed the guest: the rest is ignored
        finally:
            self._draining = False


def _split_args(args: str) -> list[str]:
    out: list[str] = []
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"|(\S+)', args):
        out.append(m.group(0))
    return out


def _substitute(text: str, argv: list[str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) == "c":
            return str(len(argv))
        i = int(m.group(2))
        if i >= len(argv):
            raise CommandError(f"missing argument {i} in user-defined command")
        return argv[i]
    return re.sub(r"\$arg(c)\b|\$arg(\d+)\b", sub, text)

