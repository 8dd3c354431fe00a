"""Builds the optional native fast paths (C hooks used through ctypes); metadata is in pyproject."""
from setuptools import Extension, setup

setup(ext_modules=[
    Extension("debugger.engine._native", ["debugger/engine/_native.c"], optional=True),
    Extension("debugger.machine._irqwait", ["debugger/machine/_irqwait.c"], optional=True),
    Extension("debugger.machine._blockcount", ["debugger/machine/_blockcount.c"],
              optional=True),
    Extension("debugger.machine._pagejournal", ["debugger/machine/_pagejournal.c"],
              optional=True),
    Extension("debugger.trace._fulltrace", ["debugger/trace/_fulltrace.c"], optional=True),
])
