"""Fuzz campaigns: every kind of input bootdbg takes, thrown at it in-process.

    python -m tests.fuzz KIND --inputs N [--seed S] [--limit SECONDS]
    python -m tests.fuzz all --seconds 60

KIND is one of images, scripts, argv, traces, dumps, qemulog, rsp, keys.  The oracle: no Python
exception outside the kind's documented user-error types, no "internal error" or traceback in
what the user sees, no input running past its time limit, and (rsp) a server that still answers
a real gdb after every batch.  Every finding is written to tests/fuzz/corpus/KIND/ and stays
there as a regression case (tests/fuzz/test_fuzz.py replays the corpus in the default run).
"""
