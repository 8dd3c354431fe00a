"""Where the built-in demo boot images live (the repository's `images/` folder)."""
from __future__ import annotations

from pathlib import Path

__all__ = ["IMAGES_DIR", "DEMO", "demo_image", "image_path"]

IMAGES_DIR = Path(__file__).resolve().parent.parent / "images"
DEMO = "hello"


def image_path(name: str) -> Path:
    """The built image `name` (e.g. "vm86" or "vm86.img")."""
    p = IMAGES_DIR / (name if name.endswith(".img") else f"{name}.img")
    return p


def demo_image() -> Path:
    return image_path(DEMO)
