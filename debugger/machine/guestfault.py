"""The exception the CPU raises while doing something for the guest (delivering an event,
switching tasks): `GuestFault`, raised by `delivery.py` and `taskswitch.py`."""
from __future__ import annotations

__all__ = ["GuestFault", "VECTOR_NAMES"]

VECTOR_NAMES = {0: "#DE", 1: "#DB", 2: "NMI", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM",
                8: "#DF", 10: "#TS", 11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 16: "#MF",
                17: "#AC", 18: "#MC", 19: "#XM", 20: "#VE", 21: "#CP"}


class GuestFault(Exception):
    """The CPU raised exception `vector` (with `error_code`) while doing something for the guest."""

    def __init__(self, vector: int, error_code: int | None = None, cr2: int | None = None):
        super().__init__(vector, error_code)
        self.vector = vector
        self.error_code = error_code
        self.cr2 = cr2
        # Raised in the middle of a task switch, once the new task's registers are loaded: it
        # is the new task's fault (its EIP is the return address, not the INT's).
        self.new_task = False

    def __str__(self) -> str:
        name = VECTOR_NAMES.get(self.vector, f"vector {self.vector}")
        ec = "" if self.error_code is None else f" error code {self.error_code:#x}"
        return f"{name}{ec}"
