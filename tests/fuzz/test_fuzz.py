"""The fuzz campaigns, bounded for the default run: each kind generates a fixed number of
inputs (hypothesis drives the choices, derandomized so the run is reproducible), and every
input a campaign ever found a problem with (tests/fuzz/corpus/) is replayed.  Longer campaigns:
`python -m tests.fuzz KIND --inputs N`."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.engine import CORPUS, judge
from tests.fuzz.kinds import NAMES, make
from tests.fuzz.known import KNOWN

# inputs per kind in the default run (about 25 s of CPU in all on the CI machine)
BUDGET = {"images": 60, "scripts": 150, "argv": 25, "traces": 20, "dumps": 60, "qemulog": 20,
          "rsp": 200, "keys": 25}

_kinds: dict[str, object] = {}


def kind(name: str):
    k = _kinds.get(name)
    if k is None:
        k = _kinds[name] = make(name)
        k.setup()
    return k


@pytest.mark.parametrize("name", NAMES)
def test_campaign(name):
    k = kind(name)
    findings = []

    @settings(max_examples=BUDGET[name], deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.randoms(use_true_random=False))
    def one(rng):
        data = k.generate(rng)
        f = judge(k, data)
        if f is not None:
            findings.append(f)
    one()
    if k.batch:
        problem = k.batch_check()
        assert problem is None, problem
    assert not findings, "\n\n".join(f"{f.what}: {f.data[:200]!r}\n{f.detail}"
                                     for f in findings[:3])


def _corpus():
    out = []
    for name in NAMES:
        d = CORPUS / name
        if d.is_dir():
            for p in sorted(d.iterdir()):
                rel = f"{name}/{p.name}"
                marks = [pytest.mark.xfail(strict=True, reason=KNOWN[rel])] if rel in KNOWN \
                    else []
                out.append(pytest.param(name, p, id=rel, marks=marks))
    return out


@pytest.mark.parametrize("name, path", _corpus())
def test_corpus(name, path):
    f = judge(kind(name), path.read_bytes())
    assert f is None, f"{f.what}: {f.detail}"
