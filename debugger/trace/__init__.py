"""Record and replay: trace files, the timeline of checkpoints, reverse execution, export, diff.

- `format`: the file format (VERSION, record types, chunk layout) -- the only place it is defined;
- `writer` / `reader`: streaming writer and a reader that reports damage and keeps what precedes it;
- `ram`, `timeline`: checkpoints with random access (own page deltas, not Unicorn's snapshot stack);
- `timetravel`: reverse execution on a Session (goto, reverse-stepi, reverse-continue, ...);
- `recorder` / `replay`: recording a session into a file and replaying it with hash checks;
- `fulltrace`: the per-instruction trace (`record --full`: TRACE chunks) and its reader API;
  `ftrecord` records it (native hooks in `_fulltrace.c` via `ftnative`, or pure Python);
- `istream`: the per-instruction stream of a recording (re-executed, or from `fulltrace`);
- `fields`: the CPU state as flat named fields; `export`: Tenet and JSON lines;
- `qemulog` / `diff`: QEMU `-d cpu` logs, and the first divergence between two runs.
"""
