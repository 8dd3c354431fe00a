"""Corpus cases that still fail, each in an area another helper owns: replayed as
xfail(strict=True) so the fix flips them to a pass the lead sees (then delete the entry)."""
from __future__ import annotations

KNOWN: dict[str, str] = {
    # "KIND/FILE": "owner: what is wrong (issue 14 item)",
}
