"""Fixtures for CLI tests: guest images on disk and the bootdbg command line."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

ROOT = Path(__file__).resolve().parents[2]


def bootdbg_argv() -> list[str]:
    exe = shutil.which("bootdbg")
    return [exe] if exe else [sys.executable, "-m", "debugger"]


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"BOOTDBG_HISTORY": str(tmp_path / "history"), "PROMPT_TOOLKIT_NO_CPR": "1",
                "TERM": "xterm", "PYTHONPATH": os.pathsep.join(
                    [str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                   if p])})
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


def demo_or_guest(tmp_path: Path, name: str, source: str) -> Path:
    """The repository's demo image `name` if it is built, else the equivalent test guest."""
    from debugger.images import image_path
    from tests.cli.guests import write_image

    p = image_path(name)
    if p.exists():
        return p
    return write_image(tmp_path, source, f"{name}.img")


@pytest.fixture
def images(tmp_path):
    from tests.cli.guests import HELLO, UNREAL, VM86

    return {"vm86": demo_or_guest(tmp_path, "vm86", VM86),
            "unreal": demo_or_guest(tmp_path, "unreal", UNREAL),
            "hello": __import__("tests.cli.guests", fromlist=["write_image"]).write_image(
                tmp_path, HELLO, "hello-guest.img")}
