"""`bootdbg run IMAGE`: boot an image to the end, printing the serial console live.

Output the guest writes to port E9h (the Bochs/QEMU debug console) is printed live too, each
line labelled `[e9] ` (a line of one console is ended before the other's starts).  --json OUT
writes a report with the final state, the serial and the E9 output.

Exit codes: 0 the guest halted (HLT with interrupts off) or the instruction budget ran out;
1 the guest crashed (triple fault, unmapped memory, reset, unsupported feature, no bootable
device); 2 the input could not be used; 130 interrupted with Ctrl-C.
"""
from __future__ import annotations

import argparse
import signal
import sys
from typing import Any

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
    p.add_argument("--json", metavar="OUT",
                   help="write a JSON report (stop, final state, serial, debugcon, screen) to "
                        "OUT (- for stdout)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from debugger.machine.pc import Machine
    from debugger.ui.statefmt import format_state

    from debugger.images import demo_image

    disks, boot = disks_from_args(args, args.image or str(demo_image()))
    if args.max_insns is not None and args.max_insns < 0:
        raise UserError("--max-insns must be a positive number")
    machine = Machine(disks, config_from_args(args, boot))
    from debugger.ui.progress import RunProgress

    progress = RunProgress(machine, sys.stderr)      # on a terminal only, never in a pipe
    out = _Consoles(sys.stdout, quiet=args.quiet, progress=progress)
    until = args.until_serial.encode("latin-1", "replace") if args.until_serial else None

    def on_serial(byte: int) -> None:
        out.put("serial", byte)
        if until is not None and machine.serial_out.endswith(until):
            machine.request_stop("serial", f"serial output reached {args.until_serial!r}")
    machine.on_serial = on_serial
    e9 = machine.devices.debugcon
    e9_seen = [len(e9.output)]

    def on_e9(byte: int) -> None:
        if len(e9.output) > e9_seen[0]:      # (re-executed output is not echoed twice)
            e9_seen[0] = len(e9.output)
            out.put("e9", byte)
    e9.on_tx = on_e9

    def on_sigint(_sig: int, _frame: object) -> None:
        machine.interrupt()

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        with progress:
            result = machine.run(args.max_insns)
    finally:
        signal.signal(signal.SIGINT, old)
    out.end_line()
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
    code = 130 if result.reason == "interrupt" else 0 if result.reason in OK_REASONS else 1
    if args.json:
        _report(args, machine, result, code)
    return code


class _Consoles:
    """The serial console raw, port E9h labelled `[e9] ` per line, on one output stream."""

    LABELS = {"serial": "", "e9": "[e9] "}

    def __init__(self, stream: Any, quiet: bool = False, progress: Any = None) -> None:
        self.stream, self.quiet, self.progress = stream, quiet, progress
        self.source: str | None = None      # whose line the cursor is in (None: line start)

    def put(self, source: str, byte: int) -> None:
        if self.quiet:
            return
        text = ""
        if self.source is not None and self.source != source:
            text = "\n"
            self.source = None
        if self.source is None and byte != 10:
            text += self.LABELS[source]
        text += chr(byte) if byte in (9, 10, 13) or 32 <= byte < 127 else f"\\x{byte:02x}"
        self.source = None if byte == 10 else source
        self._write(text)

    def end_line(self) -> None:
        if self.source is not None:
            self._write("\n")
            self.source = None

    def _write(self, text: str) -> None:
        if self.progress is not None:        # erases the progress line first (ui/progress.py)
            self.progress.output(text, self.stream)
        else:
            self.stream.write(text)
            self.stream.flush()


def _report(args: argparse.Namespace, machine: Any, result: Any, code: int) -> None:
    from debugger import __version__
    from debugger.script.report import file_sha256, write_report

    st = machine.state()
    final = st.to_dict()
    final.update(icount=result.icount, bits=st.bits, linear_pc=st.pc)
    screen = [line.ljust(80)[:80] for line in machine.devices.vga.screen_text()]
    try:
        write_report(args.json, {
            "version": 1, "bootdbg": __version__,
            "image": {"path": args.image, "sha256": file_sha256(args.image)
                      if args.image else None},
            "stop": {"reason": result.reason, "message": result.message,
                     "icount": result.icount},
            "final": final, "serial": machine.serial.decode("latin-1"),
            "debugcon": machine.devices.debugcon.output.decode("latin-1"),
            "screen": screen, "exit_reason": result.reason, "exit_code": code})
    except OSError as exc:
        raise UserError(f"--json {args.json}: {exc.strerror or exc}") from None
