"""The fuzz oracle's time limit: CPU time, so that an input starved by a busy machine is not
called a hang, while one that spins is; and a resumed campaign meets the same inputs."""
from __future__ import annotations

import random
import time

from tests.fuzz.engine import Kind, campaign, judge


class _Spin(Kind):
    name = "spin"
    limit = 0.2

    def run(self, data: bytes) -> str:
        while True:
            pass


class _Wait(Kind):
    name = "wait"
    limit = 0.05                 # CPU seconds; the wall-clock backstop is 100x that

    def run(self, data: bytes) -> str:
        time.sleep(0.3)          # (waiting uses no CPU: like an input starved by other work)
        return ""


def test_an_input_that_spins_is_a_hang_in_cpu_time():
    f = judge(_Spin(), b"x")
    assert f is not None and f.what == "hang" and "CPU time" in f.detail


def test_an_input_that_waits_within_the_backstop_is_no_hang():
    assert judge(_Wait(), b"x") is None


class _Count(Kind):
    name = "count"

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    def generate(self, rng: random.Random) -> bytes:
        return rng.randbytes(4)

    def run(self, data: bytes) -> str:
        self.seen.append(data)
        return ""


def test_a_resumed_campaign_continues_the_seed_where_it_stopped():
    whole, first, rest = _Count(), _Count(), _Count()
    campaign(whole, inputs=10, seed=3, save=False)
    campaign(first, inputs=4, seed=3, save=False)
    campaign(rest, inputs=6, seed=3, save=False, skip=4)
    assert first.seen + rest.seen == whole.seen
