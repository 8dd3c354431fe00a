"""Stock boot-loader disk images from Debian packages, built at test time (cached): the builders
are `debugger/stockimages.py` (shared with `bootdbg bench real`); a missing package skips."""
from __future__ import annotations

from pathlib import Path

import pytest

from debugger import stockimages

CACHE = Path(__file__).resolve().parents[1] / ".cache" / "stock"


def _build(fn) -> Path:
    try:
        return fn(CACHE)
    except stockimages.Unavailable as exc:
        pytest.skip(str(exc))


def syslinux_image() -> Path:
    return _build(stockimages.syslinux_image)


def grub_image() -> Path:
    return _build(stockimages.grub_image)


def syslinux_com32_image(module: str, append: str = "") -> Path:
    return _build(lambda cache: stockimages.syslinux_com32_image(module, append, cache))
