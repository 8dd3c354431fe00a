"""Triage: run a corpus of boot images unattended and get one row per image.

    from debugger.triage import run, TriageOptions
    for row in run(["corpus/"], TriageOptions(max_insns=10_000_000), jobs=4):
        print(row["path"], row["stop_reason"], row["profiles"]["vmx"])

Each image runs in a worker process of its own (`worker`), on a local pool or a Dask cluster
(`executors`); a row's fields are listed in `fields`.  `bootdbg triage` is the command line.
"""
from debugger.triage.options import PROFILE_NAMES, TriageOptions
from debugger.triage.runner import plan, run

__all__ = ["PROFILE_NAMES", "TriageOptions", "plan", "run"]
