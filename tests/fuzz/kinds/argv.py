"""Command lines: `bootdbg` argv built from every subcommand's options with edge values, run
in-process (`debugger.cli.main`).  Interactive and listening forms are left out (session
without -x, gdbserver); everything else runs with a small instruction budget."""
from __future__ import annotations

import os
import random
import shlex

from tests.fuzz.engine import ROOT, Kind, cli_main, scratch

IMG = str(ROOT / "images" / "hello.img")
# (no NUL: a command line cannot carry one)
VALUES = ["", "0", "1", "-1", "999999999999999999999", "0x10", "abc", "é", "\x01", "--", "-",
          "/dev/null", "/dev/zero", "/nonexistent", IMG, str(ROOT / "images" / "pmode.img"),
          str(ROOT / "images"), str(ROOT / "tests/checks/data/qemu-real-i386.txt"),
          "fda", "hda", "hdb", "fdb", "vmx", "kvm", "jsonl", "tenet", "\\e[A", "{}", "%s"]
OPTIONS = {
    "run": ["--drive", "--fda", "--fdb", "--hda", "--hdb", "--boot", "--ram", "--keys",
            "--serial-input", "--until-serial", "--quiet", "--no-state"],
    "check": ["--profile", "--json"],
    "trace": [],
    "replay": ["--verify"],
    "record": ["--full", "--max-insns", "--ram", "--keys", "--serial-input"],
    "session": ["-x", "--batch", "--ram", "--keys"],
}
TRACE_SUB = ["dump", "export", "diff", "info", "--format", "-o"]


class ArgvKind(Kind):
    name = "argv"
    limit = 20.0
    expected = (SystemExit,)

    def setup(self) -> None:
        self.tmp = scratch("bootdbg-fuzz-argv-")
        self.out = os.path.join(self.tmp, "out")

    def generate(self, rng: random.Random) -> bytes:
        cmd = rng.choice(sorted(OPTIONS))
        argv = [cmd]
        if cmd == "trace":
            argv.append(rng.choice(TRACE_SUB))
        if cmd in ("run", "record"):
            argv += ["--max-insns", str(rng.choice([0, 1, 100, 5000]))]
        if cmd == "record":
            argv += ["-o", self.out]
        if cmd == "session":
            argv += ["-x", "/dev/null"]
        if cmd in ("run", "record", "session") and rng.randrange(8):
            # 7 in 8 with a small machine: a recording compares all of guest RAM at each
            # checkpoint (~90 ms at the default 128 MiB, most of an input's time)
            argv += ["--ram", "4"]
        for _ in range(rng.randrange(0, 5)):
            r = rng.random()
            if r < 0.5 and OPTIONS[cmd]:
                argv.append(rng.choice(OPTIONS[cmd]))
            if r < 0.9:
                argv.append(rng.choice(VALUES))
            else:
                argv.append("".join(chr(rng.randrange(1, 0x3000)) for _ in range(3)))
        if "-x" in argv[-1:] or argv[-1] in OPTIONS[cmd]:
            argv.append("/dev/null")
        return "\x1f".join(argv).encode("utf-8", "surrogatepass")

    def run(self, data: bytes) -> str:
        argv = data.decode("utf-8", "replace").split("\x1f")
        if argv and argv[0] in ("session", "") and "-x" not in argv:
            argv[1:1] = ["-x", "/dev/null"]       # never the interactive REPL
        if "gdbserver" in argv[:1]:
            return ""
        return cli_main(argv)

    @staticmethod
    def show(data: bytes) -> str:
        return "bootdbg " + " ".join(shlex.quote(a) for a in
                                     data.decode("utf-8", "replace").split("\x1f"))


KIND = ArgvKind
