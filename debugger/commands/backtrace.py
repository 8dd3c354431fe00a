"""`backtrace` / `bt` / `where`: the frame-pointer chain with interrupt and exception frames."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

from debugger.commands import command
from debugger.commands.args import count
from debugger.engine.backtrace import MAX_FRAMES, backtrace as walk, format_frames

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext


@command("backtrace", aliases=["bt", "where"], category="data", usage="backtrace [N]",
         help="The call chain from CS:EIP up: frame-pointer frames (BP/EBP/RBP chains; marked\n"
              "as guesses), and interrupt/exception frames from the deliveries bootdbg made\n"
              "(IVT, IDT, vm86 -> ring 0: exact).  N: at most N frames (default 64).")
def backtrace(ctx: "CommandContext", args: str) -> Any:
    n = count(args, MAX_FRAMES, "frame count", ctx)
    frames = walk(ctx.session, limit=max(1, n))
    return Text("\n".join(format_frames(ctx.session, frames)))
