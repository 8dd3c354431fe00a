"""fastcopy.deepcopy gives what copy.deepcopy gives (device states in checkpoints): the same
values, the same sharing (memo objects stay themselves, aliases stay aliases), new objects
everywhere else -- on made-up states and on every device of a booted machine."""
from __future__ import annotations

import collections
import copy
import datetime
import enum
from dataclasses import dataclass, field

from debugger.machine import fastcopy, snapshot
from debugger.machine.devices._base import Links
from tests.conftest import boot_machine


class Colour(enum.Enum):
    RED = 1


class Plain:
    def __init__(self, **kw):
        self.__dict__.update(kw)


class Custom:
    def __init__(self, n):
        self.n = n

    def __deepcopy__(self, memo):
        return Custom(self.n + 100)          # (its own rule, which must be kept)


class Slotted:
    __slots__ = ("a",)

    def __init__(self, a):
        self.a = a


@dataclass
class Channel:
    count: int = 0
    latch: list[int] = field(default_factory=list)


def _shape(v, shared, seen):
    """Values and identities: which objects are shared, which are aliases, which are new."""
    if id(v) in shared:
        return ("shared", id(v))
    t = type(v)
    if t in (int, float, bool, str, bytes, type(None)) or isinstance(v, enum.Enum):
        return (t.__name__, v)
    if id(v) in seen:
        return ("alias", seen[id(v)])
    seen[id(v)] = len(seen)
    if t is bytearray:
        return ("bytearray", bytes(v))
    if t in (list, tuple, collections.deque):
        return (t.__name__, [_shape(x, shared, seen) for x in v])
    if t is dict:
        return ("dict", [(_shape(k, shared, seen), _shape(x, shared, seen)) for k, x in v.items()])
    if hasattr(v, "__dict__"):
        return (t.__name__, _shape(vars(v), shared, seen))
    if hasattr(v, "__slots__"):
        return (t.__name__, [_shape(getattr(v, s), shared, seen) for s in v.__slots__])
    return (t.__name__, repr(v))


def _same(state, shared_objs):
    memo = {id(o): o for o in shared_objs}
    a = copy.deepcopy(state, dict(memo))
    b = fastcopy.deepcopy(state, dict(memo))
    shared = set(memo)
    assert _shape(a, shared, {}) == _shape(b, shared, {})
    # the objects of the original that each copy holds (immutable values, objects that copy
    # themselves as themselves): the same ones
    originals = {id(x) for x in _walk(state, shared)}
    assert {id(x) for x in _walk(a, shared)} & originals == \
        {id(x) for x in _walk(b, shared)} & originals


def _walk(v, shared, out=None):
    out = [] if out is None else out
    if id(v) in shared or any(v is x for x in out):
        return out
    out.append(v)
    if isinstance(v, dict):
        for k, x in v.items():
            _walk(k, shared, out)
            _walk(x, shared, out)
    elif isinstance(v, (list, tuple, collections.deque)):
        for x in v:
            _walk(x, shared, out)
    elif hasattr(v, "__dict__") and not isinstance(v, (Links, enum.Enum)):
        _walk(vars(v), shared, out)
    return out


def test_made_up_states_copy_as_deepcopy_copies_them():
    shared = Plain(name="clock")
    buf = bytearray(b"\x01\x02")
    ch = Channel(5, [1, 2])
    inner = Plain(buf=buf, again=buf, ch=ch, clock=shared)
    state = {
        "links": Links(clock=shared), "ints": [1, 2, 3], "buf": buf, "inner": inner,
        "channels": [ch, Channel(), ch], "queue": collections.deque([inner, 3], maxlen=5),
        "pair": (ch, 1), "when": datetime.datetime(2026, 1, 2), "colour": Colour.RED,
        "custom": Custom(1), "slotted": Slotted([buf]), "empty": Plain(), "none": None,
        "nested": {"a": [{"b": bytearray(3)}], 7: inner},
    }
    state["self"] = state
    _same(state, [shared])
    b = fastcopy.deepcopy(state, {id(shared): shared})
    assert b["custom"].n == 101 and b["inner"].buf is b["buf"] is b["inner"].again
    assert b["channels"][0] is b["channels"][2] is b["inner"].ch and b["self"] is b
    # (deques and Links are taken without copy.deepcopy too)
    assert b["queue"].maxlen == 5 and b["queue"][0] is b["inner"] and b["queue"] is not \
        state["queue"] and type(b["queue"]) is collections.deque
    assert b["links"] is state["links"]
    q = collections.deque([1])
    q.append(q)                 # (a deque holding itself)
    c = fastcopy.deepcopy(q, {})
    assert c[1] is c and c is not q and c.maxlen is None


def test_every_device_of_a_booted_machine_copies_as_deepcopy_copies_it():
    m = boot_machine("mov al, 0x36\nout 0x43, al\nmov al, 1\nout 0x40, al\nout 0x40, al\nhlt")
    m.run(1000)
    shared = list(snapshot._shared(m).values())
    for dev in m.devices.all():
        _same(snapshot._state_of(dev), shared)
