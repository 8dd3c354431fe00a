"""Where the per-image jobs run: a local pool (every core by default) or a Dask cluster.

Both hand each job to `worker.run_isolated`, which runs it in a process of its own; the pool
only decides how many run at once.  Locally that is a `concurrent.futures.ThreadPoolExecutor`
whose threads each wait for one worker process (a process can be killed on timeout, which a
process-pool task cannot).  On Dask (`distributed.Client(ADDRESS)`) each task does the same on
the worker machine: the image travels with the task (or, with `shared=True`, the path is used
as it is, for storage every worker sees).
"""
from __future__ import annotations

import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from debugger.triage.worker import run_isolated

__all__ = ["ClusterError", "DaskExecutor", "LocalExecutor", "default_jobs"]


class ClusterError(Exception):
    """The Dask cluster cannot be used (not installed, not reachable): one line."""


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:          # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class LocalExecutor:
    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = jobs or default_jobs()
        self._pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="triage")

    def submit(self, job: dict[str, Any]) -> Future[dict[str, Any]]:
        return self._pool.submit(run_isolated, job)

    def wait_first(self, futures: set[Any]) -> tuple[set[Any], set[Any]]:
        from concurrent.futures import FIRST_COMPLETED, wait

        done, rest = wait(futures, timeout=1.0, return_when=FIRST_COMPLETED)
        return set(done), set(rest)

    def keep_running(self, futures: set[Any]) -> set[Any]:
        """Ctrl-C: drop the jobs not started yet; those running finish."""
        return {f for f in futures if not f.cancel()}

    def shutdown(self, cancel: bool = False) -> None:
        self._pool.shutdown(wait=True, cancel_futures=cancel)


def _dask_task(job: dict[str, Any], data: bytes | None) -> dict[str, Any]:
    """Runs on a Dask worker: the image arrives as bytes (or is read from a shared path)."""
    if data is None:
        return run_isolated(job)
    with tempfile.TemporaryDirectory(prefix="bootdbg-triage-") as tmp:
        path = Path(tmp) / "image.img"
        path.write_bytes(data)
        return run_isolated({**job, "file": str(path)})


class DaskExecutor:
    def __init__(self, address: str, *, shared: bool = False) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise ClusterError("--scheduler needs Dask: pip install 'bootdbg[cluster]'") \
                from None
        try:
            self.client = Client(address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        self.shared = shared
        self.jobs = sum(self.client.nthreads().values()) or 1

    def submit(self, job: dict[str, Any]) -> Any:
        data = None if self.shared else Path(job["file"]).read_bytes()
        # Tasks are never "pure": the same image twice is two runs (and two rows).
        return self.client.submit(_dask_task, job, data, pure=False, retries=0)

    def wait_first(self, futures: set[Any]) -> tuple[set[Any], set[Any]]:
        from distributed import wait
        from distributed.utils import TimeoutError as DaskTimeout

        try:
            done, rest = wait(list(futures), timeout=1.0, return_when="FIRST_COMPLETED")
        except (TimeoutError, DaskTimeout):
            return set(), set(futures)
        return set(done), set(rest)

    def keep_running(self, futures: set[Any]) -> set[Any]:
        return futures         # at most one task per worker thread was submitted: all run

    def shutdown(self, cancel: bool = False) -> None:
        self.client.close()
