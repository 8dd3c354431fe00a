"""Shared test fixtures: assemble nasm snippets into boot images, build the demo images."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "tests" / ".cache"


def nasm_available() -> bool:
    return shutil.which("nasm") is not None


def assemble(source: str, *, pad_to: int | None = 1474560, boot_signature: bool = True) -> bytes:
    """Assemble `source` (bits 16, org 0x7c00 unless it says otherwise) into a disk image.

    Results are cached by content hash under tests/.cache so repeated runs skip nasm.
    """
    if not nasm_available():
        pytest.skip("nasm is not installed")
    src = source if "org " in source else "bits 16\norg 0x7c00\n" + source
    if boot_signature and "0xaa55" not in src.lower():
        src += "\ntimes 510-($-$$) db 0\ndw 0xaa55\n"
    key = hashlib.sha256(src.encode()).hexdigest()[:20]
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / f"{key}.bin"
    if not out.exists():
        asm = CACHE / f"{key}.asm"
        asm.write_text(src)
        tmp = CACHE / f"{key}.{id(src)}.tmp"
        r = subprocess.run(["nasm", "-f", "bin", "-o", str(tmp), str(asm)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"nasm failed:\n{r.stderr}\n{src}")
        tmp.replace(out)
    data = out.read_bytes()
    if pad_to and len(data) < pad_to:
        data += bytes(pad_to - len(data))
    return data


@pytest.fixture
def asm():
    return assemble


def boot_machine(source: str, **config):
    """A Machine booted from an assembled snippet (floppy)."""
    from debugger.machine.disk import disk_from_bytes
    from debugger.machine.pc import Machine, MachineConfig

    disk = disk_from_bytes(assemble(source), "test.img", boot=True)
    return Machine([disk], MachineConfig(**config))


@pytest.fixture
def boot():
    return boot_machine


SERIAL_PUTC = """
; putc: AL -> COM1 (no BIOS)
putc: push dx
      mov dx, 0x3f8
      out dx, al
      pop dx
      ret
"""


def demo_session(name: str, **kw):
    """A Session on the demo image `images/<name>.img` (a `-hd` name boots as a hard disk)."""
    from debugger.engine.session import Session
    from debugger.machine.disk import open_disk

    kind = "hd" if name.endswith("-hd") else None
    return Session(disks=[open_disk(ROOT / "images" / f"{name}.img", kind=kind, boot=True)], **kw)


# Real mode -> flat 32-bit protected mode (CS 08, DS/ES/SS 10, ESP 9000), for small guests;
# GDT_TAIL holds the GDT (also ring-3 code/data at 18/20 and a TSS at 28), `tss` and `idt`.
GDT_PM = """
    cli
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7000
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm
bits 32
pm: mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x9000
"""
GDT_TAIL = """
align 8
gdt: dq 0
    dq 0x00cf9a000000ffff      ; 08 code32 DPL0
    dq 0x00cf92000000ffff      ; 10 data DPL0
    dq 0x00cffa000000ffff      ; 18 code32 DPL3
    dq 0x00cff2000000ffff      ; 20 data DPL3
    dw 0x67, tss, 0x8900, 0    ; 28 TSS32 available
gdtr: dw gdtr - gdt - 1
    dd gdt
tss equ 0x2000
idt equ 0x1000
"""

# After GDT_PM: page tables mapping 0-4 MiB identically (directory 0x10000, table 0x11000; the
# page at 0x12000 is cleared for a second table), then PAGING_ON.
PAGING_TABLES = """
    mov edi, 0x10000
    xor eax, eax
    mov ecx, 3 * 1024
    rep stosd
    mov dword [0x10000], 0x11003
    mov edi, 0x11000
    mov eax, 3
    mov ecx, 1024
.fill:
    stosd
    add eax, 0x1000
    loop .fill
"""
PAGING_ON = """
    mov eax, 0x10000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
"""


def idt_gate(vector: int, handler: str) -> str:
    """Asm (after GDT_PM) that makes IDT entry `vector` a 32-bit interrupt gate to 08:`handler`."""
    return f"""
    mov eax, {handler}
    mov [idt + {vector}*8], ax
    mov word [idt + {vector}*8 + 2], 0x08
    mov word [idt + {vector}*8 + 4], 0x8e00
    shr eax, 16
    mov [idt + {vector}*8 + 6], ax
"""


def stepped_along(steps, ref):
    """The steps of a full trace, each checked first against `ref` (a Session) single-stepped
    alongside: the trace holds, after every instruction, the state stepping shows."""
    for step in steps:
        ref.step()
        assert step.cpu_state() == ref.state(), step.icount
        yield step


# Real mode with interrupts off and IRQ0 (INT 08h) going to the guest's label `tick`.
IRQ0_TO_TICK = """
    cli
    xor ax, ax
    mov ds, ax
    mov word [0x20], tick
    mov word [0x22], 0
"""
