"""The PC: a Unicorn-backed x86 machine with BIOS, devices and interrupt delivery."""
