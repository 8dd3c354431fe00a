"""Opening the files the trace tools are given: the first bytes, or one line saying why not."""
from __future__ import annotations

from pathlib import Path

__all__ = ["read_head"]


def read_head(path: str | Path, size: int, error: type[Exception]) -> bytes:
    """The first `size` bytes of `path`; `error` with one line when the file cannot be read."""
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
