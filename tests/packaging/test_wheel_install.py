"""The wheel as a user gets it: built from the checkout (here without a C compiler, so the
pure-Python fallback is what gets installed), installed into a clean venv, and run from outside
the checkout: the README's first command, the plugins and the benchmark images it ships."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIP = ("debugger", "images", "plugins", "setup.py", "pyproject.toml", "README.md", "MANIFEST.in")


def _copy_source(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.pyc", "build", "*.egg-info",
                                    "*.tmp")
    for name in SHIP:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "BOOTDBG_NO_NATIVE", "BOOTDBG_PLUGIN_PATH")}
    env.update(NO_COLOR="1", COLUMNS="400", **extra)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv (with the system's site-packages for the dependencies) holding only the wheel."""
    if importlib.util.find_spec("wheel") is None:
        pytest.skip("the 'wheel' package is needed to build a wheel (pip install -e '.[test]')")
    tmp = tmp_path_factory.mktemp("wheel")
    src, out, env_dir = tmp / "src", tmp / "dist", tmp / "venv"
    src.mkdir()
    _copy_source(src)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(out), str(src)], capture_output=True, text=True,
                       env=_env(CC="false"), timeout=600)      # CC=false: no C compiler
    assert r.returncode == 0, r.stdout + r.stderr
    wheels = list(out.glob("bootdbg-*.whl"))
    assert len(wheels) == 1
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                        "--no-deps", "--no-index", "--force-reinstall", str(wheels[0])],
                       capture_output=True, text=True, env=_env(), timeout=600)
    if r.returncode != 0 and "no such option: --python" in r.stderr:
        pytest.skip("pip is too old for --python")
    assert r.returncode == 0, r.stdout + r.stderr
    return env_dir


def _run(env_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(env_dir / "bin" / "bootdbg"), *args], capture_output=True,
                          text=True, cwd=cwd, env=_env(), timeout=300)


def test_readme_first_command_runs_from_outside_the_checkout(installed, tmp_path):
    r = _run(installed, tmp_path, "run")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert (ROOT / "images" / "hello.expect").read_text() in r.stdout
    assert "--- stopped: halted" in r.stdout
    # no compiler at build time: one line says so, and how to get the fast path
    notes = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(notes) == 1 and "slow pure-Python path" in notes[0] and "C compiler" in notes[0]


def test_the_wheel_ships_plugins_and_bench_images(installed, tmp_path):
    r = _run(installed, tmp_path, "session", "--batch", "-ex", "plugin list")
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("bootkit", "disklog", "emucost", "screenshot"):
        assert re.search(rf"^{name}\s.*in-tree .*site-packages/debugger/data/plugins/{name}\.py",
                         r.stdout, re.M), r.stdout
    probe = ("import debugger, debugger.images as i, debugger.bench as b\n"
             "assert 'site-packages' in debugger.__file__, debugger.__file__\n"
             "print(all(i.image_path(n).is_file() for n in b.BENCH_IMAGES + ('hello',)))\n")
    r = subprocess.run([str(installed / "bin" / "python"), "-c", probe], capture_output=True,
                       text=True, cwd=tmp_path, env=_env(), timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "True", r.stdout + r.stderr
    r = _run(installed, tmp_path, "bench", "no-such-image")
    assert r.returncode != 0 and "Traceback" not in r.stderr

