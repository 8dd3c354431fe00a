/*
 * bootdbg native block hook for physical breakpoints: at every translation-block start, the
 * physical bytes the block runs from (through the mapping in force: paging and the A20 mask)
 * are compared with the armed physical breakpoints; a block holding one at a linear address that
 * is not an exit yet stops the engine before the block runs, and Python makes that linear
 * address an exit (so the breakpoint stops exactly there, whichever alias runs it).
 * Translation with paging on is Unicorn's uc_vmem_translate (passed in as a pointer: the block
 * is about to run, so its pages translate).  Used through ctypes; links against nothing.
 */
#include <stdint.h>
#include <Python.h>

typedef int (*emu_stop_fn)(void *uc);
typedef int (*translate_fn)(void *uc, uint64_t address, int prot, uint64_t *paddress);

#define PB_MAX 16
#define KNOWN_MAX 64

struct bootdbg_pb {
    const uint8_t *env;
    emu_stop_fn emu_stop;
    translate_fn translate;
    int32_t cr0_off, a20_off;
    int32_t armed, fired;
    int32_t n, nknown;
    uint64_t hit_linear;
    uint64_t phys[PB_MAX];
    uint64_t known[KNOWN_MAX];
};

static int phys_of(struct bootdbg_pb *d, void *uc, uint64_t linear, uint64_t *out) {
    uint64_t cr0 = *(const uint64_t *)(d->env + d->cr0_off);
    int64_t a20 = *(const int32_t *)(d->env + d->a20_off);
    if (!(cr0 & 0x80000000u)) {
        *out = linear & 0xFFFFFFFFu & (uint64_t)a20;
        return 1;
    }
    uint64_t p = 0;
    if (d->translate(uc, linear, 4 /* UC_PROT_EXEC */, &p) != 0) return 0;
    *out = p;
    return 1;
}

static int known(const struct bootdbg_pb *d, uint64_t linear) {
    for (int i = 0; i < d->nknown; i++)
        if (d->known[i] == linear) return 1;
    return 0;
}

void bootdbg_pb_cb(void *uc, uint64_t address, uint32_t size, void *user_data) {
    struct bootdbg_pb *d = (struct bootdbg_pb *)user_data;
    if (!d->armed || d->fired) return;
    uint64_t lin = address, end = address + (size ? size : 1);
    while (lin < end) {
        uint64_t n = 0x1000 - (lin & 0xFFF), p;
        if (n > end - lin) n = end - lin;
        if (phys_of(d, uc, lin, &p)) {
            for (int i = 0; i < d->n; i++) {
                if (d->phys[i] >= p && d->phys[i] < p + n) {
                    uint64_t at = lin + (d->phys[i] - p);
                    if (!known(d, at)) {
                        d->fired = 1;
                        d->hit_linear = at;
                        d->emu_stop(uc);
                        return;
                    }
                }
            }
        }
        lin += n;
    }
}

int bootdbg_pb_size(void) { return (int)sizeof(struct bootdbg_pb); }

static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_pbcheck",
                                 "bootdbg physical-breakpoint block hook (used through ctypes)",
                                 -1, NULL};
PyMODINIT_FUNC PyInit__pbcheck(void) { return PyModule_Create(&mod); }
