/*
 * bootdbg native helper for the PC's interrupt delivery: a Unicorn block hook that stops the
 * engine as soon as EFLAGS.IF is 1.  Installed only while an interrupt request is pending with
 * interrupts disabled; STI, POPF and IRET all end a translation block, so checking at block
 * starts delivers the interrupt at the same instruction boundary a per-instruction check would.
 * Used through ctypes; links against nothing (uc_emu_stop is passed in as a pointer).
 */
#include <stdint.h>
#include <Python.h>

typedef int (*emu_stop_fn)(void *uc);

struct bootdbg_irqwait {
    const uint8_t *env;
    emu_stop_fn emu_stop;
    int32_t eflags_off;
    int32_t fired;
    int32_t armed;          /* the hook is installed (read by _repstring.c: no REP iteration may
                               run before a block this hook would stop at) */
    int32_t pad;
};

void bootdbg_irqwait_cb(void *uc, uint64_t address, uint32_t size, void *user_data) {
    struct bootdbg_irqwait *w = (struct bootdbg_irqwait *)user_data;
    (void)address; (void)size;
    if (!w->fired && (*(const uint32_t *)(w->env + w->eflags_off) & 0x200)) {
        w->fired = 1;
        w->emu_stop(uc);
    }
}

int bootdbg_irqwait_size(void) { return (int)sizeof(struct bootdbg_irqwait); }

static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_irqwait",
                                 "bootdbg IF watcher (used through ctypes)", -1, NULL};
PyMODINIT_FUNC PyInit__irqwait(void) { return PyModule_Create(&mod); }
