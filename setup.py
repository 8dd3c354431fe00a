"""Builds the optional native fast paths (C hooks used through ctypes); metadata is in pyproject.

A wheel also carries the demo and benchmark images and the in-tree plugins: build_py copies the
checkout's top-level images/*.img and plugins/ into debugger/data/ (debugger.images.shipped_dir
finds them there).  Without a C compiler the extensions are skipped (optional=True) and bootdbg
runs its pure-Python path, saying so once on stderr.
"""
from pathlib import Path
import shutil

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = {"images": ("*.img",), "plugins": ("*.py", "README.md")}


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        for folder, patterns in SHIPPED.items():
            dest = Path(self.build_lib) / "debugger" / "data" / folder
            dest.mkdir(parents=True, exist_ok=True)
            for pattern in patterns:
                for src in sorted((ROOT / folder).glob(pattern)):
                    shutil.copy2(src, dest / src.name)


setup(cmdclass={"build_py": BuildPyWithData}, ext_modules=[
    Extension("debugger.engine._native", ["debugger/engine/_native.c"], optional=True),
    Extension("debugger.engine._pbcheck", ["debugger/engine/_pbcheck.c"], optional=True),
    Extension("debugger.machine._irqwait", ["debugger/machine/_irqwait.c"], optional=True),
    Extension("debugger.machine._blockcount", ["debugger/machine/_blockcount.c",
                                                "debugger/machine/_repstring.c",
                                                "debugger/machine/_storescan.c"],
              depends=["debugger/machine/_blockcount.h"], optional=True),
    Extension("debugger.machine._hotports", ["debugger/machine/_hotports.c"], optional=True),
    Extension("debugger.machine._pagejournal", ["debugger/machine/_pagejournal.c"],
              optional=True),
    Extension("debugger.machine._untouched", ["debugger/machine/_untouched.c"], optional=True),
    Extension("debugger.machine._intdeliver", ["debugger/machine/_intdeliver.c"],
              optional=True),
    Extension("debugger.trace._fulltrace", ["debugger/trace/_fulltrace.c"], optional=True),
])
