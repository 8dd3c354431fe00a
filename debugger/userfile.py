"""Opening the files a user names: one line saying why not, and never unbounded work.

Every file bootdbg is handed by a user (scripts, dumps, logs, configs, disk images) goes
through here.  Small files are read whole, but only up to a cap: a regular file larger than
the cap is refused from its size, and anything else (a pipe, `/dev/zero`, `/dev/urandom`) is
read up to the cap and refused if it goes on.  Disk images are not read at all: `open_image`
gives a descriptor and a size for positioned reads, and refuses what has no size (a character
device or a pipe).
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = ["UserFileError", "read_capped", "read_stream_capped", "open_image", "MiB",
           "SCRIPT_CAP", "TEXT_CAP", "CONFIG_CAP"]

MiB = 1 << 20
SCRIPT_CAP = 16 * MiB          # a batch script (`-x`, `source`)
TEXT_CAP = 16 * MiB            # a state dump or another text file read whole
CONFIG_CAP = 4 * MiB           # a settings file


class UserFileError(Exception):
    """A user-supplied file cannot be used (the message is one line)."""


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def _size(n: int) -> str:
    return f"{n // MiB} MiB" if n >= MiB and n % MiB == 0 else f"{n} bytes"


def _open_failure(path: str | Path, exc: Exception, error: type[Exception],
                  what: str = "") -> Exception:
    """The one-line `error` for a file that could not be opened."""
    if isinstance(exc, FileNotFoundError):
        return error(f"{path}: no such file")
    if isinstance(exc, IsADirectoryError):
        return error(f"{path}: is a directory" + (f", not a {what}" if what else ""))
    if isinstance(exc, ValueError):              # a NUL in the name (from a script line)
        return error(f"{path!r}: not a file name")
    return error(f"{path}: cannot read ({getattr(exc, 'strerror', None) or exc})")


def _open(path: str | Path, error: type[Exception]) -> BinaryIO:
    try:
        return open(path, "rb")
    except (OSError, ValueError) as exc:
        raise _open_failure(path, exc, error) from None


def read_capped(path: str | Path, cap: int, *, what: str = "file",
                error: type[Exception] = UserFileError) -> bytes:
    """The bytes of `path`, at most `cap` of them; `error` (one line) if there are more."""
    with _open(path, error) as f:
        try:
            st = os.fstat(f.fileno())
            mode, size = st.st_mode, st.st_size
            if stat.S_ISDIR(mode):
                raise error(f"{path}: is a directory")
            if stat.S_ISREG(mode) and size > cap:
                raise error(f"{path}: {_size(size)} is too large for a {what} "
                            f"(at most {_size(cap)})")
            data = f.read(cap + 1)
        except OSError as exc:
            raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    if len(data) > cap:
        raise error(f"{path}: {_kind(mode) if not stat.S_ISREG(mode) else 'the file'} gives "
                    f"more than {_size(cap)}; a {what} is at most that")
    return data


def read_stream_capped(stream: BinaryIO, cap: int, label: str, *, what: str = "file",
                       error: type[Exception] = UserFileError) -> bytes:
    """Up to `cap` bytes from an open stream (standard input); `error` if it goes on."""
    try:
        data = stream.read(cap + 1)
    except OSError as exc:
        raise error(f"{label}: cannot read ({exc.strerror or exc})") from None
    if len(data) > cap:
        raise error(f"{label}: more than {_size(cap)}; a {what} is at most that")
    return data


def open_image(path: str | Path, *, what: str = "disk image",
               error: type[Exception] = UserFileError) -> tuple[int, int]:
    """(descriptor, size) of a file to be read on demand with positioned reads.  Regular
    files and block devices only: what has no size is refused with one line."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as exc:
        raise _open_failure(path, exc, error, what) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode):
            size = os.fstat(fd).st_size
        elif stat.S_ISBLK(mode):
            size = os.lseek(fd, 0, os.SEEK_END)
        elif stat.S_ISDIR(mode):
            raise error(f"{path}: is a directory, not a {what}")
        else:
            raise error(f"{path}: {_kind(mode)}, not a {what} (give a file)")
    except BaseException:
        os.close(fd)
        raise
    return fd, size
