"""Builds the optional native fast path (debugger/engine/_native.c); metadata is in pyproject."""
from setuptools import Extension, setup

setup(ext_modules=[
    Extension("debugger.engine._native", ["debugger/engine/_native.c"], optional=True),
    Extension("debugger.machine._irqwait", ["debugger/machine/_irqwait.c"], optional=True),
])
