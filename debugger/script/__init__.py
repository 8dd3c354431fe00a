"""Scripts: the command language's interpreter (blocks, user commands, FILE:LINE errors)."""
from __future__ import annotations

from debugger.script.interpreter import Interpreter, SessionOver
from debugger.script.parser import ScriptError

__all__ = ["Interpreter", "ScriptError", "SessionOver"]
