"""Where the built-in demo boot images live (the repository's `images/` folder, or its copy in
an installed wheel)."""
from __future__ import annotations

from pathlib import Path

__all__ = ["IMAGES_DIR", "DEMO", "demo_image", "image_path", "shipped_dir"]


def shipped_dir(name: str) -> Path:
    """A folder of files that ship with bootdbg ("images", "plugins"): the copy inside an
    installed wheel (debugger/data/NAME, written by setup.py's build_py), else the checkout's
    top-level NAME/."""
    packaged = Path(__file__).resolve().parent / "data" / name
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / name


IMAGES_DIR = shipped_dir("images")
DEMO = "hello"


def image_path(name: str) -> Path:
    """The built image `name` (e.g. "vm86" or "vm86.img")."""
    p = IMAGES_DIR / (name if name.endswith(".img") else f"{name}.img")
    return p


def demo_image() -> Path:
    return image_path(DEMO)
