"""`GdbServer`: one gdb (or IDA, Ghidra) client driving a `Session` over the remote protocol.

Supported: `?`, `g`/`G`, `p`/`P`, `m`/`M`, `c`/`s` (with an address), Z0/Z1 breakpoints and
Z2/Z3/Z4 watchpoints (and `z`), `qSupported`, `qXfer:features:read`, `qRcmd` (monitor: any
bootdbg command, its output sent back), thread queries for the one CPU, `D`, `k`, and ^C during
a continue.  Reverse execution (`bc`, `bs`) is served -- and advertised in qSupported -- when
time travel is on for the session (`record`, `bootdbg gdbserver --record`); otherwise they get
the empty "not supported" reply.  When the client goes away the points it set are deleted and
the session is left as it was, usable.
"""
from __future__ import annotations

import io
import os
import socket
import threading
from typing import TYPE_CHECKING, Any, Callable

from debugger.gdb.packets import (INTERRUPT, BadPacket, Disconnected, PacketIO, parse_hex,
                                  parse_hex_bytes)
from debugger.gdb.tdesc import Layout, layout_for

if TYPE_CHECKING:
    from debugger.engine.session import Session
    from debugger.engine.stops import StopEvent

__all__ = ["GdbServer", "serve", "parse_listen", "ListenError"]

SIGINT, SIGTRAP, SIGSEGV = 2, 5, 11
_FAULT_KINDS = {"exception", "triple-fault", "unmapped", "unsupported", "reset"}
_WATCH_ACCESS = {2: ("write", "watch"), 3: ("read", "rwatch"), 4: ("access", "awatch")}


class ListenError(Exception):
    """A bad --listen address or a port that cannot be bound (one line)."""


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    try:
        p = int(port, 10)
    except ValueError:
        raise ListenError(f"bad listen address {text!r}: expected [HOST:]PORT") from None
    if not 0 <= p <= 65535:
        raise ListenError(f"bad port {p}")
    return host or "127.0.0.1", p


class GdbServer:
    def __init__(self, session: "Session", run_command: Callable[[str], str] | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        self.s = session
        self.run_command = run_command or _default_runner(session)
        self.log = log or (lambda text: None)
        self.layout: Layout | None = None
        self.points: dict[tuple[int, int, int], int] = {}
        self.io: PacketIO | None = None

    # -- connection --------------------------------------------------------------------------------
    def serve_socket(self, sock: socket.socket) -> str:
        """Serve one client until it detaches, kills or disconnects; returns why it ended."""
        self.io = PacketIO(sock)
        self.layout = None
        try:
            while True:
                pkt = self.io.read()
                if pkt is INTERRUPT:
                    self.io.send(self._stop_reply(None, SIGINT))
                    continue
                assert isinstance(pkt, bytes)
                reply = self.handle(pkt.decode("latin-1"))
                if reply is _CLOSE:
                    return "detached"
                if reply is not None:
                    self.io.send(reply)
        except Disconnected:
            return "disconnected"
        finally:
            self._cleanup()

    def _cleanup(self) -> None:
        for number in list(self.points.values()):
            try:
                self.s.delete(number)
            except Exception:
                pass
        self.points.clear()

    # -- packets -----------------------------------------------------------------------------------
    def handle(self, pkt: str) -> Any:
        """The reply to one packet.  The error boundary: whatever goes wrong while serving a
        request (a malformed number, an address the machine cannot reach, a failure inside the
        session) becomes an `E NN` reply and one log line; the server keeps serving."""
        try:
            return self._dispatch(pkt)
        except Disconnected:
            raise
        except BadPacket as exc:
            self.log(f"gdbserver: refused {pkt[:40]!r}: {exc}")
            return f"E{exc.code:02x}"
        except Exception as exc:                 # noqa: BLE001 -- the boundary, see above
            from debugger.engine.session import SessionError

            code = 0x0E if isinstance(exc, SessionError) else 0x01
            self.log(f"gdbserver: {pkt[:40]!r} failed: {type(exc).__name__}: {exc}")
            return f"E{code:02x}"

    def _dispatch(self, pkt: str) -> Any:
        if not pkt:
            return ""
        c, body = pkt[0], pkt[1:]
        if c == "?":
            last = self.s.last_stop         # (the end of history is no news to a new client)
            return self._stop_reply(None if last is None or last.kind == "history" else last,
                                    SIGTRAP)
        if c == "g":
            return self._layout().encode_all(self.s.state())
        if c == "G":
            return self._write_all(body)
        if c == "p":
            return self._read_reg(parse_hex(body, "register number"))
        if c == "P":
            n, sep, val = body.partition("=")
            if not sep:
                raise BadPacket("P without '='")
            return self._write_reg(parse_hex(n, "register number"), val)
        if c == "m":
            addr, _, n = body.partition(",")
            return self._read_mem(parse_hex(addr, "address"), parse_hex(n, "length"))
        if c == "M":
            head, sep, data = body.partition(":")
            addr, _, n = head.partition(",")
            a, k, raw = parse_hex(addr, "address"), parse_hex(n, "length"), \
                parse_hex_bytes(data)
            if not sep or k != len(raw):
                raise BadPacket(f"M: length {k} but {len(raw)} bytes of data")
            if a + k > 1 << 64:
                raise BadPacket("M: past the end of the address space")
            try:
                self.s.write_memory(a, raw)
            except Exception as exc:         # noqa: BLE001 -- unmapped, faulting, beyond RAM
                self.log(f"gdbserver: M{a:x},{k:x}: {exc}")
                return "E0e"
            return "OK"
        if c in ("c", "s"):
            if body:
                self._set_pc(parse_hex(body.split(";")[0], "address"))
            return self._resume(step=c == "s")
        if pkt in ("bc", "bs"):
            return self._reverse(step=pkt == "bs")
        if c in "Zz":
            return self._point(c == "Z", body)
        if c == "H" or c == "T":
            return "OK"
        if c == "D":
            self.io and self.io.send("OK")
            return _CLOSE
        if c == "k":
            return _CLOSE
        if c == "q" or c == "Q":
            return self._query(pkt)
        if c == "v":
            return "OK" if pkt == "vKill" or pkt.startswith("vKill;") else ""
        return ""                                # the rest: not supported

    def _query(self, pkt: str) -> Any:
        if pkt.startswith("qSupported"):
            reverse = ";ReverseStep+;ReverseContinue+" if self._timetravel() else ""
            exe = ";qXfer:exec-file:read+" if self._exec_file() else ""
            return "PacketSize=4000;qXfer:features:read+;swbreak+;hwbreak+" + reverse + exe
        if pkt.startswith("qXfer:features:read:target.xml:"):
            off, _, n = pkt.rsplit(":", 1)[1].partition(",")
            o, k = parse_hex(off, "offset"), parse_hex(n, "length")
            xml = self._layout(fresh=True).xml().encode()
            chunk = xml[o:o + k]
            return (b"l" if o + k >= len(xml) else b"m") + chunk
        if pkt.startswith("qXfer:exec-file:read:"):
            exe = self._exec_file()
            if exe is None:
                return "E00"
            off, _, n = pkt.rsplit(":", 1)[1].partition(",")
            o, k = parse_hex(off, "offset"), parse_hex(n, "length")
            data = exe.encode()
            return (b"l" if o + k >= len(data) else b"m") + data[o:o + k]
        if pkt.startswith("qXfer:"):
            return "E00"
        if pkt == "qC":
            return "QC1"
        if pkt == "qfThreadInfo":
            return "m1"
        if pkt == "qsThreadInfo":
            return "l"
        if pkt.startswith("qAttached"):
            return "1"
        if pkt.startswith("qSymbol"):
            return "OK"
        if pkt.startswith("qRcmd,"):
            return self._monitor(parse_hex_bytes(pkt[6:], "command").decode("utf-8", "replace"))
        return ""

    def _exec_file(self) -> str | None:
        """The ELF the session's symbols came from, if loaded at its own addresses: gdb asks for
        it (qXfer:exec-file:read) on `target remote` without a file and loads its symbols."""
        for source, offset, _count in reversed(getattr(self.s.symbols, "files", [])):
            if offset or not source:
                continue
            path = os.path.abspath(os.path.expanduser(source))
            try:
                with open(path, "rb") as f:
                    if f.read(4) == b"\x7fELF":
                        return path
            except OSError:
                continue
        return None

    # -- registers ---------------------------------------------------------------------------------
    def _layout(self, fresh: bool = False) -> Layout:
        if self.layout is None or fresh:
            self.layout = layout_for(self.s.state())
        return self.layout

    def _read_reg(self, n: int) -> str:
        lay = self._layout()
        if n >= len(lay.regs):
            return "E45"
        return lay.encode(self.s.state(), n)

    def _write_reg(self, n: int, hexval: str) -> str:
        lay = self._layout()
        if n >= len(lay.regs):
            return "E45"
        r = lay.regs[n]
        value = int.from_bytes(parse_hex_bytes(hexval, "register value"), "little")
        if r.write is None:
            return "OK"                          # not modelled (x87/SSE): ignored
        if r.get(self.s.state()) & ((1 << r.bits) - 1) == value:
            return "OK"
        if r.write == "pc":
            self._set_pc(value)
        else:
            try:
                self.s.set_register(r.write, value)
            except Exception:
                return "E22"
        return "OK"

    def _write_all(self, body: str) -> str:
        lay = self._layout()
        pos = 0
        for i, r in enumerate(lay.regs):
            n = r.bits // 4
            if pos + n > len(body):
                break
            if self._write_reg(i, body[pos:pos + n]) != "OK":
                return "E22"
            pos += n
        return "OK"

    def _set_pc(self, linear: int) -> None:
        st = self.s.state()
        if st.lma and st.cs.l:
            self.s.set_register("rip", linear)
        else:
            self.s.set_register("rip", (linear - st.cs.base) & 0xFFFFFFFF)

    # -- memory ------------------------------------------------------------------------------------
    def _read_mem(self, addr: int, n: int) -> str:
        from debugger.engine.session import SessionError

        n = min(n, 0x1000)
        try:
            return self.s.read_memory(addr, n).hex()
        except SessionError:
            pass
        out = bytearray()
        for a in range(addr, addr + n):         # up to the first unreadable byte
            try:
                out += self.s.read_memory(a, 1)
            except SessionError:
                break
        return out.hex() if out else "E14"

    # -- points ------------------------------------------------------------------------------------
    def _point(self, insert: bool, body: str) -> str:
        from debugger.engine.session import SessionError

        parts = body.split(";")[0].split(",")
        if len(parts) != 3:
            raise BadPacket("Z/z needs TYPE,ADDR,KIND")
        kind, addr, size = (parse_hex(parts[0], "type"), parse_hex(parts[1], "address"),
                            parse_hex(parts[2], "kind"))
        if kind > 4:
            return ""
        if addr + max(1, size) >= 1 << 64:       # (the engine cannot cover the last byte)
            raise BadPacket(f"Z: {addr:#x}+{size} past the end of the address space")
        key = (kind, addr, size)
        if not insert:
            number = self.points.pop(key, None)
            if number is not None:
                try:
                    self.s.delete(number)
                except SessionError:
                    pass
            return "OK"
        if key in self.points:
            return "OK"
        try:
            if kind in (0, 1):
                p = self.s.break_at(f"*{addr:#x}")
            else:
                p = self.s.watch(addr, max(1, size), _WATCH_ACCESS[kind][0])
        except SessionError as exc:
            self.log(f"gdbserver: Z{kind},{addr:x}: {exc}")
            return "E16"
        p.silent = True
        self.points[key] = p.number
        return "OK"

    # -- running -----------------------------------------------------------------------------------
    def _interruptible(self, go: Callable[[], Any]) -> tuple[Any, bool]:
        """Run `go` in a thread while ^C from the client interrupts the session; (its result
        or the exception it raised, whether the client went away meanwhile)."""
        assert self.io is not None
        result: list[Any] = []
        done = threading.Event()
        gone = False

        def run_thread() -> None:
            try:
                result.append(go())
            except BaseException as exc:            # reported to the client
                result.append(exc)
            finally:
                done.set()
        t = threading.Thread(target=run_thread, name="bootdbg-gdb-run", daemon=True)
        t.start()
        while not done.is_set():
            try:
                if self.io.poll_interrupt(0.05):
                    self.s.interrupt()
            except Disconnected:
                gone = True
                self.s.interrupt()
                done.wait()
        t.join()
        return result[0], gone

    def _timetravel(self) -> Any:
        return getattr(self.s, "timeline", None)

    def _reverse(self, step: bool) -> str:
        """bs / bc: back one instruction, or back to the latest point that fires before now."""
        from debugger.engine.runner import make_stop
        from debugger.engine.session import SessionError

        tt = self._timetravel()
        if tt is None:
            return ""

        def run() -> "StopEvent":
            try:
                if step:
                    return tt.reverse_stepi(1)
                ev = tt.reverse_continue()
                key = {v: k for k, v in self.points.items()}.get(ev.point)
                if key is not None and key[0] >= 2:
                    # gdb expects a reverse watchpoint stop before the accessing instruction
                    # (it compares the value there with the one it knows); bootdbg's own stop
                    # is after it, as going forwards.
                    tt.goto(ev.icount - 1)
                    return make_stop(self.s, ev.kind, f"before {ev.message}", point=ev.point)
                return ev
            except SessionError as exc:         # no history before here: gdb says so
                return make_stop(self.s, "history", str(exc))
        return self._resume(step=step, run=run)

    def _resume(self, step: bool, run: Callable[[], "StopEvent"] | None = None) -> str:
        assert self.io is not None
        gone = False
        if step:
            ev = run() if run is not None else self.s.step(1)
        else:
            ev, gone = self._interruptible(run or self.s.cont)
            if isinstance(ev, BaseException):
                self.log(f"gdbserver: run failed: {ev}")
                return f"T{SIGSEGV:02x}thread:1;"
        self.log(ev.summary())
        if gone:
            raise Disconnected()
        return self._stop_reply(ev, SIGTRAP)

    def _stop_reply(self, ev: "StopEvent | None", default: int) -> str:
        sig = default
        extra = ""
        if ev is not None:
            if ev.kind == "history":            # reverse execution reached the recording's start
                return f"T{SIGTRAP:02x}replaylog:begin;thread:1;"
            if ev.kind == "interrupt":
                sig = SIGINT
            elif ev.kind in _FAULT_KINDS:
                sig = SIGSEGV
            by_number = {v: k for k, v in self.points.items()}
            key = by_number.get(ev.point) if ev.point is not None else None
            if key is not None:
                kind, addr, _ = key
                if kind == 0:
                    extra = "swbreak:;"
                elif kind == 1:
                    extra = "hwbreak:;"
                else:
                    extra = f"{_WATCH_ACCESS[kind][1]}:{addr:x};"
        return f"T{sig:02x}{extra}thread:1;"

    # -- monitor -----------------------------------------------------------------------------------
    def _monitor(self, line: str) -> str:
        assert self.io is not None
        text, gone = self._interruptible(lambda: self.run_command(line))   # ^C stops `continue`
        if gone:
            raise Disconnected()
        if isinstance(text, BaseException):
            raise text
        if text and not text.endswith("\n"):
            text += "\n"
        data = text.encode("utf-8", "replace")
        for i in range(0, len(data), 1024):
            self.io.send("O" + data[i:i + 1024].hex())
        return "OK"


_CLOSE = object()


def _default_runner(session: "Session") -> Callable[[str], str]:
    """Run a bootdbg command line on the session and return what it printed (errors too)."""
    from rich.console import Console

    from debugger.commands.context import CommandContext
    from debugger.script.interpreter import Interpreter, ScriptError, SessionOver
    from debugger.ui.theme import THEME

    buf = io.StringIO()
    con = Console(file=buf, width=120, force_terminal=False, no_color=True, theme=THEME,
                  highlight=False)
    ctx = CommandContext(session, con, err_console=con)
    interp = Interpreter(ctx)

    def run(line: str) -> str:
        buf.seek(0)
        buf.truncate()
        try:
            interp.run_lines([(line, ("monitor", 1))])
        except ScriptError as exc:
            con.print(str(exc), markup=False, highlight=False)
        except SessionOver:
            con.print("the session is over", markup=False)
        return buf.getvalue()
    return run


def serve(session: "Session", host: str, port: int, *, once: bool = False,
          on_listen: Callable[[str, int], None] | None = None,
          run_command: Callable[[str], str] | None = None,
          log: Callable[[str], None] | None = None) -> None:
    """Listen on host:port and serve clients one after another (only the first if `once`)."""
    try:
        srv = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host
                                   else socket.AF_INET)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    server = GdbServer(session, run_command, log)
    try:
        actual = srv.getsockname()[1]
        if on_listen:
            on_listen(host, actual)
        while True:
            conn, peer = srv.accept()
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                (log or (lambda t: None))(f"gdbserver: client {peer[0]}:{peer[1]} connected")
                try:
                    why = server.serve_socket(conn)
                except Exception as exc:         # noqa: BLE001 -- one client never ends the server
                    why = f"dropped after an internal error: {type(exc).__name__}: {exc}"
                (log or (lambda t: None))(f"gdbserver: client {why}")
            if once:
                return
    finally:
        srv.close()
