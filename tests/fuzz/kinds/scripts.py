"""Batch scripts and command lines: random commands (every command and alias) with arguments
drawn from a pool of edge values -- huge and negative numbers, registers and fields, addresses
at the ends of the address space, format strings, blocks nested and left open -- run by the
script interpreter on a booted machine restored from a checkpoint before each input."""
from __future__ import annotations

import io
import os
import random
import signal

from tests.fuzz.engine import ROOT, Kind, scratch

SKIP = {"gdbserver", "plugin", "tui", "layout", "record", "source"}
NUMBERS = ["0", "1", "-1", "2", "7", "16", "0x7c00", "0x7c10", "0xffff", "0x10000", "0xb8000",
           "0xfffffff0", "0xffffffff", "0x100000000", "0xffffffffffffffff", "0x10000000000000000",
           "99999999999999999999999", "-0x80000000", "1e5", "0b101", "010", "0x", "00", "4096",
           "65536", "1048576", "0x7fffffff", "-99999999999"]
REGS = ["$eax", "eax", "ax", "al", "$esp", "sp", "$eip", "eip", "rip", "cs", "ds", "ss", "fs",
        "cr0", "cr2", "cr3", "cr4", "efer", "eflags", "flags", "tr.base", "tr.limit",
        "idtr.limit", "idtr.base", "gdtr.base", "gdtr.limit", "cs.base", "cs.limit", "cs.ar",
        "ldtr", "dr7", "$pc", "$sp", "$_", "$x", "$1", "$$", "$foo"]
WORDS = ["if", "else", "end", "while", "write", "read", "access", "io", "mode", "vm86",
         "exception", "fail", "interrupt", "triple-fault", "linear", "physical", "on", "off",
         "all", "registers", "break", "mem", "gdt", "idt", "tss", "points", "vmx", "kvm",
         "xen", "hvf", "real", "pm", "long", "theme", "+", "-", "*", "/", "%", "&", "|", "^",
         "<<", ">>", "==", "!=", "(", ")", ",", "=", "[", "]", ":", "!", "~", "&&", "||", "?"]
FORMATS = ['"%d\\n"', '"%x %s"', '"%99999999999d"', '"%100000d"', '"%"', '"%s%s%s%s"',
           '"%c"', '"%.99999f"', '"%-5u|"', '"\\x00\\xff"', '"unterminated', "'single'",
           '"%08x"', '"%p"', '"%n"']
SLASH = ["/x", "/10i", "/4xw", "/s", "/1000000xb", "/0x", "/-1x", "/99999999i", "/c", "/zz",
         "/16", "/i"]


def _token(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.3:
        return rng.choice(NUMBERS)
    if r < 0.5:
        return rng.choice(REGS)
    if r < 0.6:
        return "*" + rng.choice(NUMBERS)
    if r < 0.8:
        return rng.choice(WORDS)
    if r < 0.85:
        return rng.choice(FORMATS)
    if r < 0.9:
        return "".join(rng.choice("0123456789abcdefx$*+-/()[]:,.=\"'%\\ é\t\x00")
                       for _ in range(rng.randrange(1, 8)))
    return f"{rng.choice(REGS)}{rng.choice(['+', '-', '*', '<<', '/'])}{rng.choice(NUMBERS)}"


class ScriptsKind(Kind):
    name = "scripts"
    limit = 4.0

    def setup(self) -> None:
        from debugger.commands import all_commands
        from debugger.engine.session import Session, SessionError
        from debugger.machine import snapshot
        from debugger.script.interpreter import ScriptError, SessionOver

        import debugger.commands as pkg
        import importlib
        import pkgutil
        for m in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"debugger.commands.{m.name}")
        self.words = []
        for c in all_commands():
            if c.name in SKIP:
                continue
            self.words.append(c.name)
            self.words.extend(getattr(c, "aliases", ()) or ())
        self.expected = (ScriptError, SessionOver, SessionError)
        self.ScriptError, self.SessionOver = ScriptError, SessionOver
        self.snapshot = snapshot
        self.tmp = scratch("bootdbg-fuzz-")
        self.session = Session(ROOT / "images" / "hello.img")
        self.cp = snapshot.take(self.session.machine)
        self._interp()
        self.count = 0

    def _interp(self) -> None:
        from rich.console import Console

        from debugger.commands.context import CommandContext
        from debugger.script.interpreter import Interpreter
        from debugger.ui.theme import THEME

        self.buf = io.StringIO()
        con = Console(file=self.buf, width=100, force_terminal=False, no_color=True,
                      theme=THEME, highlight=False)
        self.ctx = CommandContext(self.session, con, err_console=con)
        self.interp = Interpreter(self.ctx)

    def generate(self, rng: random.Random) -> bytes:
        lines = []
        depth = 0
        for _ in range(rng.randrange(1, 8)):
            r = rng.random()
            if r < 0.08:
                lines.append(f"{rng.choice(['if', 'while'])} {_token(rng)} {_token(rng)}")
                depth += 1
            elif r < 0.12 and depth:
                lines.append("end")
                depth -= 1
            elif r < 0.14:
                lines.append("else")
            elif r < 0.17:
                lines.append(f"source {rng.choice(['/dev/null', '/nonexistent', self.tmp])}")
            else:
                cmd = rng.choice(self.words)
                if rng.random() < 0.2:
                    cmd += rng.choice(SLASH)
                args = " ".join(_token(rng) for _ in range(rng.randrange(0, 5)))
                lines.append(f"{cmd} {args}".rstrip())
        if rng.random() < 0.7:
            lines += ["end"] * depth
        return "\n".join(lines).encode("utf-8", "replace")

    def run(self, data: bytes) -> str:
        if getattr(self.session, "timeline", None) is not None:
            # An input turned time travel on (`checkpoint`): restoring the machine behind its
            # timeline's back would make a state no user can reach (a campaign's `rc` then
            # met an IndexError that was the harness's doing).  A new session.
            self.setup()
        self.count += 1
        if self.count % 200 == 0:
            self._interp()
        self.snapshot.restore(self.session.machine, self.cp) if self.snapshot.valid(
            self.session.machine, self.cp) else self.setup()
        text = data.decode("utf-8", "replace")
        self.buf.seek(0)
        self.buf.truncate()
        origin = "fuzz"
        # Long work a script asks for (`stepi 0xffff`) is no hang if Ctrl-C stops it: a
        # SIGINT a quarter of the way through the limit (it must then stop within the rest),
        # handled as at the prompt.  Timed in CPU time (a timer thread on the wall clock fired
        # while the main thread, starved by a busy machine, was still starting it: a
        # KeyboardInterrupt outside the run).
        armed = [True]

        def on_sigint(signum, frame):
            if armed[0]:
                raise KeyboardInterrupt

        def on_cpu(signum, frame):
            if armed[0]:
                os.kill(os.getpid(), signal.SIGINT)
        old = signal.signal(signal.SIGINT, on_sigint)
        old_cpu = signal.signal(signal.SIGVTALRM, on_cpu)
        try:
            signal.setitimer(signal.ITIMER_VIRTUAL, self.limit * 0.25)
            self.interp.run_lines([(ln, (origin, i + 1)) for i, ln in
                                   enumerate(text.split("\n"))])
        except self.ScriptError as exc:
            self.buf.write(str(exc) + "\n")
        except self.SessionOver:
            self._interp()
        except KeyboardInterrupt:
            self.interp.cancel()
            self.buf.write("Interrupted.\n")
        finally:
            armed[0] = False
            signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            signal.signal(signal.SIGVTALRM, old_cpu)
            signal.signal(signal.SIGINT, old)
            try:
                self.session.delete()
            except Exception:                    # noqa: BLE001 -- nothing to delete
                pass
        return self.buf.getvalue()


KIND = ScriptsKind
