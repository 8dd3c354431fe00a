"""`run(sources, ...)`: triage every image the sources name and yield one row per image as it
finishes (the order of completion, not of the sources)."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from debugger.triage.options import TriageOptions
from debugger.triage.sources import expand_sources
from debugger.triage.worker import error_row

__all__ = ["plan", "run"]


def _hash(path: Path) -> tuple[str | None, int | None, str | None]:
    h = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
    except OSError as exc:
        return None, None, f"{path}: cannot read ({exc.strerror or exc})"
    return h.hexdigest(), size, None


def plan(sources: Iterable[str | os.PathLike[str]], options: TriageOptions,
         done: set[tuple[str, str]] = frozenset()  # type: ignore[assignment]
         ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """(jobs to run, rows known without running -- unreadable files --, images skipped because
    `done` holds their (sha256, options key))."""
    key = options.key()
    od = options.to_dict()
    jobs, ready, skipped = [], [], 0
    for p in expand_sources(sources):
        sha, size, err = _hash(p)
        if err is not None:
            ready.append(error_row(str(p), None, None, od, "error", err))
            continue
        if (sha, key) in done:
            skipped += 1
            continue
        jobs.append({"file": str(p), "label": str(p), "sha256": sha, "size": size,
                     "options": od})
    return jobs, ready, skipped


def run(sources: Iterable[str | os.PathLike[str]], options: TriageOptions | None = None, *,
        jobs: int | None = None, scheduler: str | None = None, shared: bool = False,
        done: set[tuple[str, str]] = frozenset(),  # type: ignore[assignment]
        on_plan: Callable[[int, int], None] | None = None,
        stop: threading.Event | None = None) -> Iterator[dict[str, Any]]:
    """Yield the row of every image in `sources` as it finishes.

    jobs: images at once on this machine (default: every core); scheduler: a Dask scheduler
    address (`tcp://HOST:PORT`), which runs them on its cluster instead; shared: the cluster's
    workers see the same paths (the images are not sent); done: (sha256, options key) pairs to
    skip (rows already written); on_plan(total, skipped) is called once the work is known.

    KeyboardInterrupt while waiting: no new image starts, the rows in flight are yielded as they
    finish, then the KeyboardInterrupt goes on.  `stop` (set from a signal handler, say) does the
    same without the exception: the generator simply ends after the rows in flight."""
    from debugger.triage.executors import DaskExecutor, LocalExecutor

    options = options or TriageOptions()
    todo, ready, skipped = plan(sources, options, done)
    if on_plan is not None:
        on_plan(len(todo) + len(ready), skipped)
    yield from ready
    if not todo:
        return
    ex: Any = DaskExecutor(scheduler, shared=shared) if scheduler else LocalExecutor(jobs)
    window = max(1, ex.jobs) * (1 if scheduler else 2)
    pending = list(reversed(todo))
    inflight: set[Any] = set()
    jobs_of: dict[Any, dict[str, Any]] = {}
    interrupted = False
    try:
        while pending or inflight:
            try:
                if stop is not None and stop.is_set() and pending:
                    pending.clear()
                    inflight = ex.keep_running(inflight)
                while pending and len(inflight) < window and not interrupted:
                    job = pending.pop()
                    fut = ex.submit(job)
                    jobs_of[fut] = job
                    inflight.add(fut)
                done_now, inflight = ex.wait_first(inflight)
            except KeyboardInterrupt:
                interrupted = True
                pending.clear()
                inflight = ex.keep_running(inflight)
                continue
            for fut in done_now:
                yield _result(fut, jobs_of.pop(fut))
    finally:
        ex.shutdown(cancel=True)
    if interrupted:
        raise KeyboardInterrupt


def _result(fut: Any, job: dict[str, Any]) -> dict[str, Any]:
    try:
        return fut.result()
    except Exception as exc:          # a task the executor itself lost (a Dask worker died)
        return error_row(job["label"], job["sha256"], job["size"], job["options"], "crash",
                         f"task lost: {type(exc).__name__}: {exc}")
