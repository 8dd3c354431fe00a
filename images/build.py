#!/usr/bin/env python3
"""Rebuild every demo image `images/<name>.img` from `images/<name>.asm` with nasm.

Idempotent: an image is rewritten only when its bytes change, so running it twice leaves the
tree untouched.  Usage: `python images/build.py [NAME ...]` (default: all images).
Exit code 0 on success, 1 when nasm is missing or an image fails to assemble (one line each).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

IMAGES_DIR = Path(__file__).resolve().parent

__all__ = ["IMAGES_DIR", "image_names", "build", "build_all", "BuildError"]


class BuildError(Exception):
    """nasm is missing or an image did not assemble."""


def image_names() -> list[str]:
    """Names of all images (every `<name>.asm` directly in images/)."""
    return sorted(p.stem for p in IMAGES_DIR.glob("*.asm"))


def build(name: str) -> Path:
    """Assemble images/<name>.asm to images/<name>.img (rewritten only if changed)."""
    nasm = shutil.which("nasm")
    if nasm is None:
        raise BuildError("nasm is not installed")
    src = IMAGES_DIR / f"{name}.asm"
    if not src.is_file():
        raise BuildError(f"no such image source: {src}")
    out = IMAGES_DIR / f"{name}.img"
    with tempfile.TemporaryDirectory(prefix="bootdbg-img-") as tmp:
        tmp_out = Path(tmp) / f"{name}.img"
        r = subprocess.run(
            [nasm, "-f", "bin", "-I", f"{IMAGES_DIR}/", "-o", str(tmp_out), str(src)],
            capture_output=True, text=True, cwd=IMAGES_DIR)
        if r.returncode != 0:
            msg = " | ".join(line for line in r.stderr.splitlines() if line.strip())
            raise BuildError(f"{name}: nasm failed: {msg}")
        data = tmp_out.read_bytes()
    if not out.exists() or out.read_bytes() != data:
        tmp_final = out.with_name(f".{name}.{os.getpid()}.tmp")
        tmp_final.write_bytes(data)
        tmp_final.replace(out)
    return out


def build_all(names: list[str] | None = None) -> list[Path]:
    return [build(n) for n in (names or image_names())]


def main(argv: list[str]) -> int:
    try:
        for p in build_all(argv or None):
            print(p.relative_to(IMAGES_DIR.parent))
    except BuildError as e:
        print(f"build.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
