"""Plugin device models on the I/O bus, behind a guard, removable."""
from __future__ import annotations

from typing import Any, Callable

from debugger.machine.bus import Device, IoBus

__all__ = ["attach_guarded"]

Guard = Callable[[str, Callable[..., Any]], Callable[..., Any]]


class _Guarded(Device):
    def __init__(self, inner: Device, guard: Guard) -> None:
        self.inner = inner
        self.name = inner.name
        self.ports = tuple(inner.ports)
        read = guard("read", inner.io_read)

        def io_read(port: int, size: int) -> int:
            v = read(port, size)
            return (1 << (8 * size)) - 1 if v is None else v    # a failed device floats
        self.io_read = io_read  # type: ignore[method-assign]
        self.io_write = guard("write", inner.io_write)  # type: ignore[method-assign]
        self.next_deadline = guard("deadline", inner.next_deadline)  # type: ignore[method-assign]
        self.tick = guard("tick", inner.tick)  # type: ignore[method-assign]
        self.reset = guard("reset", inner.reset)  # type: ignore[method-assign]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def attach_guarded(bus: IoBus, device: Device, guard: Guard) -> Callable[[], None]:
    if not device.ports:
        raise ValueError(f"device {device.name!r} has no ports")
    proxy = _Guarded(device, guard)
    bus.attach(proxy)
    return lambda: bus.detach(proxy)
