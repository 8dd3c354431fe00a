"""`gdbserver [HOST:]PORT`: serve the GDB remote protocol for this session from the prompt.

The command lives with the server, one layer above the command registry (commands never import
the gdb stub); `debugger.cli.gdbserver` imports this module, so every session the command line
opens has it."""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.commands import CommandError, command

if TYPE_CHECKING:
    from debugger.commands.context import CommandContext


@command("gdbserver", category="running", usage="gdbserver [[HOST:]PORT]",
         help="Let gdb, IDA or Ghidra drive this session over the GDB remote protocol until the "
              "client detaches or disconnects (default 127.0.0.1:1234; port 0 picks one). "
              "Addresses are linear; 'monitor CMD' runs a bootdbg command.")
def gdbserver(ctx: "CommandContext", args: str) -> str:
    from debugger.gdb.server import ListenError, parse_listen, serve

    if ctx.batch and ctx.guest_ended:
        raise CommandError("the guest has stopped for good")
    try:
        host, port = parse_listen(args.strip() or "127.0.0.1:1234")
    except ListenError as exc:
        raise CommandError(str(exc)) from None
    try:
        serve(ctx.session, host, port, once=True,
              on_listen=lambda h, p: ctx.print(f"Listening on {h}:{p} (one client; Ctrl-C to "
                                               "stop waiting)"),
              log=lambda text: ctx.print(text))
    except ListenError as exc:
        raise CommandError(str(exc)) from None
    except KeyboardInterrupt:
        raise CommandError("gdbserver: interrupted") from None
    return "gdbserver: done; the session goes on here."
