"""User interfaces: renderers, REPL, TUI."""
