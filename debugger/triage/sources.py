"""SOURCES of `bootdbg triage`: image files, folders (searched recursively for files that look
like boot images) and `@list.txt` files (one source per line, `#` comments)."""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["SourceError", "expand_sources", "looks_like_image"]

SECTOR = 512
MAX_IMAGE = 64 << 30


class SourceError(Exception):
    """A source that names nothing (one line)."""


def looks_like_image(path: Path) -> bool:
    """A file found in a folder is triaged when it is a whole number of sectors (at least one)
    and its first sector ends in the boot signature 55 AA.  Files named on the command line or
    in a list are always triaged (the row then says why one could not run)."""
    try:
        size = path.stat().st_size
        if size < SECTOR or size % SECTOR or size > MAX_IMAGE:
            return False
        with open(path, "rb") as f:
            f.seek(510)
            return f.read(2) == b"\x55\xaa"
    except OSError:
        return False


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            p = Path(root) / name
            if p.is_file() and looks_like_image(p):
                yield p


def _from_list(listfile: Path, depth: int) -> Iterator[Path]:
    try:
        lines = listfile.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise SourceError(f"@{listfile}: {exc.strerror or exc}") from None
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line)
        if not p.is_absolute():
            p = listfile.parent / p
        if line.startswith("@"):
            yield from _expand("@" + str(listfile.parent / line[1:]), depth + 1)
        elif p.is_dir():
            yield from _walk(p)
        else:
            yield p                    # missing or unreadable: its row says so


def _expand(src: str, depth: int) -> Iterator[Path]:
    if depth > 8:
        raise SourceError(f"{src}: lists nested too deeply")
    if src.startswith("@"):
        yield from _from_list(Path(src[1:]), depth)
        return
    p = Path(src)
    if p.is_dir():
        yield from _walk(p)
    elif p.exists():
        yield p
    else:
        raise SourceError(f"{src}: no such file or folder")


def expand_sources(sources: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Every image the sources name, in order, each once."""
    seen: set[Path] = set()
    out: list[Path] = []
    for s in sources:
        for p in _expand(os.fspath(s), 0):
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out
