"""Shared command-line options for opening disk images into a machine."""
from __future__ import annotations

import argparse

from debugger.cli import UserError
from debugger.machine.disk import Disk, DiskError, open_disk

__all__ = ["add_machine_args", "disks_from_args", "config_from_args"]


def add_machine_args(p: argparse.ArgumentParser, *, image_optional: bool = False) -> None:
    p.add_argument("image", nargs="?" if image_optional else None, metavar="IMAGE",
                   help="boot disk image (raw floppy or hard-disk image)"
                        + ("; default: the built-in demo" if image_optional else ""))
    p.add_argument("--drive", choices=("fda", "hda", "fdb", "hdb"),
                   help="attach IMAGE as this drive (default: floppy for floppy sizes, else hda)")
    for name in ("fda", "fdb", "hda", "hdb"):
        p.add_argument(f"--{name}", metavar="PATH", help=f"attach another image as {name}")
    p.add_argument("--boot", choices=("fda", "fdb", "hda", "hdb"),
                   help="boot from this drive (default: the IMAGE's drive)")
    p.add_argument("--ram", type=int, default=128, metavar="MIB",
                   help="RAM size in MiB (default 128, as QEMU)")
    p.add_argument("--keys", default="", help="keystrokes queued for the guest (INT 16h / IRQ1)")
    p.add_argument("--serial-input", default="", metavar="TEXT",
                   help="bytes the guest can read from COM1")


def disks_from_args(args: argparse.Namespace, image: str) -> tuple[list[Disk], int]:
    disks: list[Disk] = []
    try:
        kind = None if args.drive is None else ("hd" if args.drive.startswith("hd") else "floppy")
        boot = open_disk(image, name=args.drive, kind=kind, boot=True)
        disks.append(boot)
        for name in ("fda", "fdb", "hda", "hdb"):
            path = getattr(args, name)
            if path:
                if any(d.name == name for d in disks):
                    raise UserError(f"drive {name} given twice")
                disks.append(open_disk(path, name=name, kind="hd" if name[0] == "h" else "floppy"))
    except DiskError as exc:
        raise UserError(str(exc)) from None
    boot_number = boot.bios_number
    if args.boot:
        match = [d for d in disks if d.name == args.boot]
        if not match:
            raise UserError(f"--boot {args.boot}: no such drive attached")
        boot_number = match[0].bios_number
    return disks, boot_number


def config_from_args(args: argparse.Namespace, boot_number: int):  # type: ignore[no-untyped-def]
    from debugger.machine.pc import MachineConfig

    from debugger.machine.devices.scancodes import text_to_scancodes

    if args.ram < 2 or args.ram > 3072:
        raise UserError(f"--ram {args.ram}: choose between 2 and 3072 MiB")
    try:
        text_to_scancodes(args.keys)
    except ValueError as exc:
        raise UserError(f"--keys: {exc}") from None
    return MachineConfig(ram_size=args.ram << 20, boot_drive=boot_number,
                         serial_input=args.serial_input.encode("latin-1", "replace"),
                         keys=args.keys)
