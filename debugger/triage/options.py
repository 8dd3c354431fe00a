"""What a triage run does to each image (`TriageOptions`), and the key that tells whether a row
in an existing output file was made with the same options (resumption)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_MAX_INSNS",
    "DEFAULT_MEMORY_MB",
    "DEFAULT_TIMEOUT",
    "PROFILE_NAMES",
    "ROW_VERSION",
    "TriageOptions",
]

ROW_VERSION = 1
PROFILE_NAMES = ("vmx", "kvm", "xen", "svm", "vmx-ug")
DEFAULT_MAX_INSNS = 50_000_000
DEFAULT_TIMEOUT = 120.0
# Unicorn reserves about 3 GiB of address space for its code buffer before the guest runs one
# instruction, so the per-image limit on address space (RLIMIT_AS) starts above that.
DEFAULT_MEMORY_MB = 4096 + 1024


@dataclass(frozen=True)
class TriageOptions:
    profiles: tuple[str, ...] = PROFILE_NAMES
    max_insns: int = DEFAULT_MAX_INSNS
    timeout: float = DEFAULT_TIMEOUT          # seconds of wall time per image
    memory_mb: int = DEFAULT_MEMORY_MB        # address-space limit of the worker process
    script: str | None = None                 # -x SCRIPT: its text (the row key covers it)
    script_name: str | None = None
    plugins: tuple[str, ...] = ()
    record_on: str | None = None              # keep a .bdt when this kind happens
    record_dir: str | None = None
    ram_mb: int = 64
    activity_budget: int = 500                # transitions localised per run (activity log)
    fast: bool = False                        # no transition watching (see probe)
    kill_grace: float = 15.0                  # seconds past `timeout` before the worker is killed
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["profiles"] = list(self.profiles)
        d["plugins"] = list(self.plugins)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TriageOptions:
        d = dict(d)
        d["profiles"] = tuple(d.get("profiles", PROFILE_NAMES))
        d["plugins"] = tuple(d.get("plugins", ()))
        return cls(**d)

    def key(self) -> str:
        """What makes two rows of the same image comparable: everything that changes the
        row's content (not the timeout or the memory limit, not where recordings go)."""
        from debugger import __version__

        basis = {"v": ROW_VERSION, "bootdbg": __version__, "profiles": list(self.profiles),
                 "max_insns": self.max_insns, "script": self.script,
                 "plugins": list(self.plugins), "record_on": self.record_on,
                 "ram_mb": self.ram_mb, "activity_budget": self.activity_budget,
                 "fast": self.fast,
                 **self.extra}
        return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()[:16]
