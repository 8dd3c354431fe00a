"""INT 13h: diskette and fixed-disk services, including the EDD extensions (AH=41h-49h).

Status codes (AH, with CF set on failure) and the choices made where BIOSes differ:

- 01h invalid function or parameter: unknown AH, AL=0 or AL>128 sectors, sector number 0, a DAP
  whose size is below 10h, a drive number with no drive behind it (SeaBIOS returns 01h for a
  missing drive too; AH=15h instead answers "no such drive", AH=00h, CF clear, per the IBM spec).
- 04h sector not found: a CHS address outside the drive's geometry or an LBA beyond the end of
  the medium (what a controller reports; SeaBIOS says 01h here).
- 09h DMA boundary: a diskette transfer whose buffer crosses a 64 KiB physical boundary, which
  the 8237 cannot do -- real BIOSes and SeaBIOS fail it, and boot code that gets this wrong
  breaks on hardware, so it is reported here too.
- EDD functions are hard-disk only (as in SeaBIOS); on a diskette they return 01h.
- AH=08h reports cylinders-2 as the last cylinder of a hard disk (one cylinder reserved for
  diagnostics, as SeaBIOS and most BIOSes do); AH=15h reports the full sector count.

The status of every call except AH=01h and AH=15h is kept in the BDA (0x441 diskettes, 0x474
hard disks).  Every transfer is logged as a "disk" event (drive, op, LBA, CHS, count, buffer,
status) for the disk-log plugin.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.machine.bios import bda, tables
from debugger.machine.bios.services._frame import caller
from debugger.machine.disk import SECTOR, DiskError

if TYPE_CHECKING:
    from debugger.machine.bios.call import BiosCall
    from debugger.machine.disk import Disk

VECTOR = 0x13

OK, BAD_COMMAND, SECTOR_NOT_FOUND, DMA_BOUNDARY = 0x00, 0x01, 0x04, 0x09
NOT_REMOVABLE = 0xB2


def handle(call: "BiosCall") -> None:
    ah = call.ah
    drive = call.dl
    disk = call.machine.disks.get(drive)
    if ah == 0x01:
        status = _last_status(call, drive)
        call.ah = status
        call.al = status
        call.cf = status != OK
        return
    if ah == 0x15:
        _drive_type(call, disk)
        return
    if disk is None:
        call.machine.events.emit(
            "disk", f"INT 13h AH={ah:02X}h drive {drive:02X}h: no such drive (AH=01h, CF set)",
            drive=drive, op=f"ah{ah:02x}", status=BAD_COMMAND, missing=True)
        _finish(call, drive, BAD_COMMAND)
        return
    fn = (_FLOPPY_FUNCS if disk.kind == "floppy" else _HD_FUNCS).get(ah)
    if fn is None:
        call.machine.events.emit(
            "bios-unknown", f"INT 13h AX={call.ax:04X} drive {drive:02X}h from {caller(call)}: "
            "function not supported (AH=01h, CF set)", vector=0x13, ax=call.ax)
        _finish(call, drive, BAD_COMMAND)
        return
    fn(call, disk)


# -- status --------------------------------------------------------------------------------------
def _status_addr(drive: int) -> int:
    return bda.FLOPPY_STATUS if drive < 0x80 else bda.DISK_STATUS


def _last_status(call: "BiosCall", drive: int) -> int:
    return call.machine.mem.read_u(_status_addr(drive), 1)


def _finish(call: "BiosCall", drive: int, status: int) -> None:
    call.machine.mem.write_u(_status_addr(drive), 1, status)
    call.ah = status
    call.cf = status != OK


# -- CHS functions -------------------------------------------------------------------------------
def _reset(call: "BiosCall", disk: "Disk") -> None:
    if disk.kind == "floppy":
        call.machine.mem.write_u(bda.FLOPPY_RECAL, 1, 0)
    _finish(call, disk.bios_number, OK)


def _chs(call: "BiosCall") -> tuple[int, int, int]:
    return call.ch | ((call.cl & 0xC0) << 2), call.dh, call.cl & 0x3F


def _chs_access(call: "BiosCall", disk: "Disk", op: str) -> None:
    count = call.al
    c, h, s = _chs(call)
    buf = call.linear(call.es, call.bx)
    g = disk.geometry
    status = OK
    lba = None
    if count == 0 or count > 128 or s == 0:
        status = BAD_COMMAND
    elif c >= g.cylinders or h >= g.heads or s > g.sectors:
        status = SECTOR_NOT_FOUND
    else:
        lba = disk.chs_to_lba(c, h, s)
        status = _transfer(call, disk, op, lba, count, buf)
    call.al = count if status == OK else 0
    _log(call, disk, op, lba, count, buf, status, chs=(c, h, s))
    _finish(call, disk.bios_number, status)


def _read(call: "BiosCall", disk: "Disk") -> None:
    _chs_access(call, disk, "read")


def _write(call: "BiosCall", disk: "Disk") -> None:
    _chs_access(call, disk, "write")


def _verify(call: "BiosCall", disk: "Disk") -> None:
    _chs_access(call, disk, "verify")


def _transfer(call: "BiosCall", disk: "Disk", op: str, lba: int, count: int, buf: int) -> int:
    if lba + count > disk.sectors:
        return SECTOR_NOT_FOUND
    if disk.kind == "floppy" and op != "verify":
        phys = call.machine.a20_wrap(buf)
        if (phys & 0xFFFF) + count * SECTOR > 0x10000:
            return DMA_BOUNDARY
    try:
        if op == "read":
            call.machine.mem.write_linear(buf, disk.read(lba, count), guest=True)
        elif op == "write":
            disk.write(lba, call.machine.mem.read_linear(buf, count * SECTOR))
    except DiskError:
        return SECTOR_NOT_FOUND
    return OK


def _log(call: "BiosCall", disk: "Disk", op: str, lba: int | None, count: int, buf: int,
         status: int, chs: tuple[int, int, int] | None = None) -> None:
    where = f"C/H/S {chs[0]}/{chs[1]}/{chs[2]}" if chs else ""
    if lba is not None:
        where = f"LBA {lba}" + (f" ({where})" if where else "")
    result = "ok" if status == OK else f"error {status:02X}h"
    call.machine.events.emit(
        "disk", f"{disk.name} {op} {count} sector(s) at {where or '?'} -> {buf:#x}: {result}",
        drive=disk.bios_number, op=op, lba=lba, chs=chs, count=count, buffer=buf,
        status=status, caller=caller(call))


def _format(call: "BiosCall", disk: "Disk") -> None:
    """Format a diskette track: the sectors of cylinder CH, head DH are filled with F6h."""
    g = disk.geometry
    c, h = call.ch | ((call.cl & 0xC0) << 2), call.dh
    if c >= g.cylinders or h >= g.heads or call.al == 0 or call.al > g.sectors:
        _finish(call, disk.bios_number, BAD_COMMAND)
        return
    lba = disk.chs_to_lba(c, h, 1)
    disk.write(lba, b"\xf6" * (SECTOR * g.sectors))
    _log(call, disk, "format", lba, g.sectors, call.linear(call.es, call.bx), OK,
         chs=(c, h, 1))
    _finish(call, disk.bios_number, OK)


def _params(call: "BiosCall", disk: "Disk") -> None:
    g = disk.geometry
    disks = call.machine.disks.values()
    if disk.kind == "floppy":
        last_cyl = g.cylinders - 1
        call.bx = g.floppy_type
        call.es = 0xF000
        call.di = tables.floppy_dpt_offset(g.floppy_type)
        count = sum(1 for d in disks if d.kind == "floppy")
    else:
        last_cyl = min(max(g.cylinders - 2, 0), 1023)
        count = sum(1 for d in disks if d.kind == "hd")
    call.al = 0
    call.ch = last_cyl & 0xFF
    call.cl = ((last_cyl >> 2) & 0xC0) | (g.sectors & 0x3F)
    call.dh = g.heads - 1
    _finish(call, disk.bios_number, OK)
    call.dl = count


def _ok(call: "BiosCall", disk: "Disk") -> None:
    """Functions with nothing to do on an emulated drive (seek, ready, recalibrate...)."""
    _finish(call, disk.bios_number, OK)


def _drive_type(call: "BiosCall", disk: "Disk | None") -> None:
    call.cf = False
    if disk is None:
        call.ah = 0x00                      # no such drive
    elif disk.kind == "floppy":
        call.ah = 0x02                      # diskette drive with change-line support
    else:
        n = disk.sectors
        call.cx = (n >> 16) & 0xFFFF
        call.dx = n & 0xFFFF
        call.ah = 0x03


def _change_line(call: "BiosCall", disk: "Disk") -> None:
    _finish(call, disk.bios_number, OK)     # the medium is never changed


# -- EDD -----------------------------------------------------------------------------------------
def _edd_check(call: "BiosCall", disk: "Disk") -> None:
    if call.bx != 0x55AA:
        _finish(call, disk.bios_number, BAD_COMMAND)
        return
    call.bx = 0xAA55
    call.cx = 0x0007        # 42h-44h,47h,48h; 45h,46h,48h,49h; EDD (48h with DPTE)
    _finish(call, disk.bios_number, OK)
    call.ah = 0x30          # EDD 3.0


def _dap_access(call: "BiosCall", disk: "Disk", op: str) -> None:
    mem = call.machine.mem
    dap = call.linear(call.ds, call.si)
    size = mem.read_linear_u(dap, 1)
    count = mem.read_linear_u(dap + 2, 2)
    off = mem.read_linear_u(dap + 4, 2)
    seg = mem.read_linear_u(dap + 6, 2)
    lba = mem.read_linear_u(dap + 8, 8)
    buf = call.linear(seg, off)
    if size < 0x10:
        _log(call, disk, op, lba, count, buf, BAD_COMMAND)
        _finish(call, disk.bios_number, BAD_COMMAND)
        return
    if (seg, off) == (0xFFFF, 0xFFFF) and size >= 0x18:
        buf = mem.read_linear_u(dap + 0x10, 8)
        if buf >> 32:
            _log(call, disk, op, lba, count, buf, BAD_COMMAND)
            _finish(call, disk.bios_number, BAD_COMMAND)
            return
    status = OK
    if count == 0:
        pass
    elif lba >= disk.sectors or lba + count > disk.sectors:
        status = SECTOR_NOT_FOUND
    elif op == "seek":
        pass
    else:
        status = _transfer(call, disk, op, lba, count, buf)
    if status != OK:
        mem.write_linear_u(dap + 2, 2, 0, guest=True)   # blocks transferred
    if op != "seek":
        _log(call, disk, op, lba, count, buf, status)
    _finish(call, disk.bios_number, status)


def _ext_read(call: "BiosCall", disk: "Disk") -> None:
    _dap_access(call, disk, "read")


def _ext_write(call: "BiosCall", disk: "Disk") -> None:
    _dap_access(call, disk, "write")


def _ext_verify(call: "BiosCall", disk: "Disk") -> None:
    _dap_access(call, disk, "verify")


def _ext_seek(call: "BiosCall", disk: "Disk") -> None:
    _dap_access(call, disk, "seek")


def _lock(call: "BiosCall", disk: "Disk") -> None:
    if call.al > 2:
        _finish(call, disk.bios_number, BAD_COMMAND)
        return
    call.al = 0                             # a fixed disk is never locked
    _finish(call, disk.bios_number, OK)


def _eject(call: "BiosCall", disk: "Disk") -> None:
    _finish(call, disk.bios_number, NOT_REMOVABLE)


def _ext_params(call: "BiosCall", disk: "Disk") -> None:
    mem = call.machine.mem
    buf = call.linear(call.ds, call.si)
    size = mem.read_linear_u(buf, 2)
    if size < 0x1A:
        _finish(call, disk.bios_number, BAD_COMMAND)
        return
    g = disk.geometry
    out = bytearray(0x42)
    out[2:4] = (0x0002).to_bytes(2, "little")               # CHS information valid
    out[4:8] = g.cylinders.to_bytes(4, "little")
    out[8:12] = g.heads.to_bytes(4, "little")
    out[12:16] = g.sectors.to_bytes(4, "little")
    out[16:24] = disk.sectors.to_bytes(8, "little")
    out[24:26] = SECTOR.to_bytes(2, "little")
    hd_index = _hd_index(call, disk)
    dpte = tables.DPTE_EBDA_OFFSET + 16 * hd_index
    if size >= 0x1E:
        out[0x1A:0x1C] = dpte.to_bytes(2, "little")
        out[0x1C:0x1E] = bda.EBDA_SEGMENT.to_bytes(2, "little")
        mem.write_phys((bda.EBDA_SEGMENT << 4) + dpte, _dpte(hd_index))
    n = 0x42 if size >= 0x42 else 0x1E if size >= 0x1E else 0x1A
    if n == 0x42:
        out[0x1E:0x20] = (0xBEDD).to_bytes(2, "little")
        out[0x20] = 0x24                                  # length of the device path info
        out[0x24:0x28] = b"ISA "
        out[0x28:0x30] = b"ATA     "
        out[0x30:0x32] = (0x1F0 if hd_index < 2 else 0x170).to_bytes(2, "little")
        out[0x38] = hd_index & 1                           # master / slave
        out[0x41] = (-sum(out[0x1E:0x41])) & 0xFF
    out[0:2] = n.to_bytes(2, "little")
    mem.write_linear(buf, bytes(out[:n]), guest=True)
    _finish(call, disk.bios_number, OK)


def _hd_index(call: "BiosCall", disk: "Disk") -> int:
    hds = sorted(n for n, d in call.machine.disks.items() if d.kind == "hd")
    return hds.index(disk.bios_number) if disk.bios_number in hds else 0


def _dpte(index: int) -> bytes:
    """EDD 2.0 device parameter table extension for the ATA channel a hard disk sits on."""
    t = bytearray(16)
    base, ctl, irq = (0x1F0, 0x3F6, 14) if index < 2 else (0x170, 0x376, 15)
    t[0:2] = base.to_bytes(2, "little")
    t[2:4] = ctl.to_bytes(2, "little")
    t[4] = 0xE0 | ((index & 1) << 4)       # LBA, master/slave
    t[6] = irq
    t[7] = 1                               # sectors per multi-sector transfer
    t[10] = 0x10                           # options: LBA translation
    t[14] = 0x11                           # revision 1.1
    t[15] = (-sum(t[:15])) & 0xFF
    return bytes(t)


def _media_change(call: "BiosCall", disk: "Disk") -> None:
    _finish(call, disk.bios_number, OK)


_COMMON = {0x00: _reset, 0x02: _read, 0x03: _write, 0x04: _verify, 0x08: _params}
_FLOPPY_FUNCS = {**_COMMON, 0x05: _format, 0x16: _change_line}
_HD_FUNCS = {
    **_COMMON, 0x09: _ok, 0x0C: _ok, 0x0D: _ok, 0x10: _ok, 0x11: _ok, 0x14: _ok,
    0x41: _edd_check, 0x42: _ext_read, 0x43: _ext_write, 0x44: _ext_verify, 0x45: _lock,
    0x46: _eject, 0x47: _ext_seek, 0x48: _ext_params, 0x49: _media_change,
}
