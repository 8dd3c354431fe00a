"""BIOS services, one module per interrupt vector (`VECTOR` or `VECTORS`, and `handle(call)`)."""
