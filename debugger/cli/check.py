"""`bootdbg check FILE`: could a hypervisor VM-enter the CPU state in this dump?

FILE is a Xen or KVM VMCS dump (judged under its own controls unless --profile is given) or a
QEMU register dump (judged under --profile, default vmx); `-` reads standard input.
Exit codes: 0 enterable, 1 not enterable, 2 the input could not be read.
"""
from __future__ import annotations

import argparse
import json
import sys

from debugger.cli import UserError

NAME = "check"
HELP = ("judge a VMCS dump or QEMU register dump: could a hypervisor VM-enter this state? "
        "(exit 0 yes, 1 no, 2 unreadable)")


def register(p: argparse.ArgumentParser) -> None:
    from debugger.checks import PROFILES

    p.add_argument("file", metavar="FILE", help="the dump (a log or mail is fine); - for stdin")
    p.add_argument("--profile", "-p", choices=[*PROFILES, "vmcs"], default=None,
                   help="vmcs: the VMCS dump as it is, under its own controls (default for VMCS "
                        "dumps); " + "; ".join(f"{k}: {v.description}" for k, v in
                                               PROFILES.items()))
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.set_defaults(func=run)


def _read(path: str) -> str:
    from debugger.userfile import TEXT_CAP, read_capped, read_stream_capped

    if path == "-":
        data = read_stream_capped(sys.stdin.buffer, TEXT_CAP, "standard input", what="dump",
                                  error=UserError)
    else:
        data = read_capped(path, TEXT_CAP, what="dump", error=UserError)
    return data.decode("utf-8", errors="replace")


def run(args: argparse.Namespace) -> int:
    from debugger.checks import DEFAULT_PROFILE, evaluate, evaluate_guest
    from debugger.checks.diagnosis import diagnose
    from debugger.checks.dumps import DumpError, parse_dump

    text = _read(args.file)
    try:
        dump = parse_dump(text)
    except DumpError as exc:
        raise UserError(f"{args.file}: {exc}") from None
    notes = list(dump.notes)
    if dump.guest is not None and args.profile in (None, "vmcs"):
        verdict = evaluate_guest(dump.guest)
    elif args.profile == "vmcs":
        raise UserError(f"{args.file}: profile vmcs needs a VMCS dump; this is a {dump.format} "
                        "register dump (choose vmx, vmx-ug, kvm, xen or svm)")
    else:
        if dump.guest is not None:
            notes.append("the profile is applied to the CPU state as the VMCS holds it")
        verdict = evaluate(dump.cpu, args.profile or DEFAULT_PROFILE)
    verdict.notes = tuple(notes) + tuple(verdict.notes)
    diagnosis = diagnose(verdict)
    if args.json:
        out = {"file": args.file, "format": dump.format, **verdict.to_dict(),
               "diagnosis": diagnosis}
        print(json.dumps(out, indent=2))
    else:
        from debugger.ui.check_report import render_verdict
        from debugger.ui.theme import make_console

        console = make_console()
        console.print(render_verdict(verdict, diagnosis=diagnosis,
                                     source=f"{args.file} ({dump.format} dump)"))
    return 0 if verdict.ok else 1
