"""The block structure of the command language: if/else/end, while/end, define/end,
document/end, commands/end, full-line # comments.

`parse(lines)` turns (text, origin) lines into a tree of nodes; the bodies of `define`,
`document` and `commands` are kept as raw lines (they run later, through the interpreter).
`Collector` does the same incrementally for the REPL: it accepts lines until the outermost block
is closed, so the prompt can show a continuation prompt meanwhile.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from debugger.errors import ScriptError

__all__ = ["Line", "Simple", "If", "While", "RawBlock", "Node", "ScriptError", "parse",
           "Collector", "classify", "located", "OPENERS"]

Origin = tuple[str, int] | None
OPENERS = ("if", "while", "define", "document", "commands")


def located(origin: Origin, message: str) -> str:
    return f"{origin[0]}:{origin[1]}: {message}" if origin else message


@dataclass
class Line:
    text: str
    origin: Origin = None


@dataclass
class Simple:
    line: Line


@dataclass
class If:
    cond: str
    origin: Origin
    then: list["Node"] = field(default_factory=list)
    orelse: list["Node"] = field(default_factory=list)


@dataclass
class While:
    cond: str
    origin: Origin
    body: list["Node"] = field(default_factory=list)


@dataclass
class RawBlock:
    """define NAME / document NAME / commands [N...]: a body kept as lines."""

    kind: str
    args: str
    origin: Origin
    body: list[Line] = field(default_factory=list)


Node = Union[Simple, If, While, RawBlock]


def classify(text: str) -> tuple[str, str] | None:
    """('if', 'cond') for a block opener, ('end', '') / ('else', '') for closers, None otherwise.

    Openers are recognised through the command registry, so unique prefixes work
    (`comm 2` opens a commands block) -- except `end` and `else`, which must be exact.
    """
    s = text.strip()
    if not s or s.startswith("#"):
        return None
    word, _, rest = s.partition(" ")
    word, rest = word.strip(), rest.strip()
    if word in ("end", "else"):
        return (word, rest)
    from debugger.commands import CommandError, find, split_command

    try:
        name, args = split_command(s)
        cmd = find(name)
    except CommandError:
        return None
    if isinstance(cmd, str) or not cmd.block:
        return None
    return (cmd.name, args)


def _raw_body(lines: list[Line], i: int, opener: Line) -> tuple[list[Line], int]:
    depth = 1
    body: list[Line] = []
    while i < len(lines):
        c = classify(lines[i].text)
        if c is not None and c[0] in OPENERS:
            depth += 1
        elif c is not None and c[0] == "end":
            depth -= 1
            if depth == 0:
                return body, i + 1
        body.append(lines[i])
        i += 1
    raise ScriptError(located(opener.origin, f"'{opener.text.strip().split()[0]}' has no "
                                             "matching 'end'"))


MAX_NESTING = 100          # if/while blocks inside one another (a clear error beyond)


@dataclass
class _Open:
    """A block being parsed: where its nodes go and how it may be closed."""

    line: Line | None
    node: If | While | None
    nodes: list[Node]
    allow_else: bool


def parse(lines: list[Line]) -> list[Node]:
    """The tree of `lines` (an explicit stack, so any nesting is one clear error, not a crash)."""
    top = _Open(None, None, [], False)
    stack = [top]
    i = 0
    while i < len(lines):
        ln = lines[i]
        c = classify(ln.text)
        i += 1
        cur = stack[-1]
        if c is None:
            if ln.text.strip() and not ln.text.strip().startswith("#"):
                cur.nodes.append(Simple(ln))
            continue
        kind, args = c
        if kind == "end":
            if cur.line is None:
                raise ScriptError(located(ln.origin, "'end' without an open block"))
            if args:
                raise ScriptError(located(ln.origin, "'end' takes no arguments"))
            stack.pop()
            continue
        if kind == "else":
            if not cur.allow_else:
                raise ScriptError(located(ln.origin, "'else' outside an 'if' block"))
            if args:
                raise ScriptError(located(ln.origin, "'else' takes no arguments "
                                                     "(use a nested 'if')"))
            assert isinstance(cur.node, If)
            cur.nodes = cur.node.orelse
            cur.allow_else = False
            continue
        if kind in ("if", "while"):
            if not args:
                raise ScriptError(located(ln.origin, f"'{kind}' needs a condition"))
            if len(stack) > MAX_NESTING:
                raise ScriptError(located(ln.origin, f"blocks nested more than {MAX_NESTING} "
                                                     "deep"))
            node: If | While = While(args, ln.origin) if kind == "while" else \
                If(args, ln.origin)
            cur.nodes.append(node)
            body = node.body if isinstance(node, While) else node.then
            stack.append(_Open(ln, node, body, kind == "if"))
            continue
        body_lines, i = _raw_body(lines, i, ln)
        cur.nodes.append(RawBlock(kind, args, ln.origin, body_lines))
    if len(stack) > 1:
        inside = stack[-1].line
        assert inside is not None
        word = inside.text.strip().split()[0]
        raise ScriptError(located(inside.origin, f"'{word}' has no matching 'end'"))
    return top.nodes


class Collector:
    """Accumulates the lines of one top-level block, fed one at a time."""

    def __init__(self, first: Line) -> None:
        self.lines = [first]
        self.depth = 1

    def add(self, line: Line) -> bool:
        """Add a line; True when the outermost block is complete."""
        self.lines.append(line)
        c = classify(line.text)
        if c is not None and c[0] in OPENERS:
            self.depth += 1
        elif c is not None and c[0] == "end":
            self.depth -= 1
        return self.depth == 0
