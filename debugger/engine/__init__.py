"""The debugger engine: run, stop, watch."""
