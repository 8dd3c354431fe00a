"""`bootdbg run IMAGE`: boot an image to the end, printing the serial console live.

Exit codes: 0 the guest halted (HLT with interrupts off) or the instruction budget ran out;
1 the guest crashed (triple fault, unmapped memory, reset, unsupported feature, no bootable
device); 2 the input could not be used; 130 interrupted with Ctrl-C.
"""
from __future__ import annotations

import argparse
import signal
import sys

from debugger.cli import UserError
from debugger.cli._machine import add_machine_args, config_from_args, disks_from_args

NAME = "run"
HELP = "boot a disk image and run it until it halts, crashes or uses up its budget"

OK_REASONS = {"halted", "budget", "serial"}


def register(p: argparse.ArgumentParser) -> None:
    add_machine_args(p, image_optional=True)
    p.add_argument("--max-insns", type=int, default=None, metavar="N",
                   help="stop after N instructions")
    p.add_argument("--until-serial", metavar="TEXT",
                   help="stop as soon as the serial output contains TEXT")
    p.add_argument("--quiet", action="store_true", help="do not echo the serial console")
    p.add_argument("--no-state", action="store_true", help="do not print the final CPU state")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugger.machine.pc import Machine
    from debugger.ui.statefmt import format_state

    from debugger.images import demo_image

    disks, boot = disks_from_args(args, args.image or str(demo_image()))
    if args.max_insns is not None and args.max_insns < 0:
        raise UserError("--max-insns must be a positive number")
    machine = Machine(disks, config_from_args(args, boot))
    out = sys.stdout
    until = args.until_serial.encode("latin-1", "replace") if args.until_serial else None

    from debugger.ui.progress import RunProgress

    progress = RunProgress(machine, sys.stderr)      # on a terminal only, never in a pipe

    def on_serial(byte: int) -> None:
        if not args.quiet:
            progress.output(chr(byte) if byte in (9, 10, 13) or 32 <= byte < 127
                            else f"\\x{byte:02x}", out)
        if until is not None and machine.serial_out.endswith(until):
            machine.request_stop("serial", f"serial output reached {args.until_serial!r}")
    machine.on_serial = on_serial

    def on_sigint(_sig: int, _frame: object) -> None:
        machine.stop_requested = True
        machine.uc.emu_stop()

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        with progress:
            result = machine.run(args.max_insns)
    finally:
        signal.signal(signal.SIGINT, old)
    serial = machine.serial
    if serial and not serial.endswith(b"\n") and not args.quiet:
        out.write("\n")
    print(f"--- stopped: {result.reason}: {result.message} (after {result.icount} instructions)")
    if not args.no_state:
        print(format_state(machine.state(), result.icount))
        screen = machine.devices.vga.screen_text()
        while screen and not screen[-1].strip():
            screen.pop()
        if screen:
            print("--- screen")
            for line in screen:
                print(line.rstrip())
    if result.reason == "interrupt":
        return 130
    return 0 if result.reason in OK_REASONS else 1
