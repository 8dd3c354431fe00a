/*
 * bootdbg: Unicorn's translated-code invalidation without side effects on the guest.
 *
 * Unicorn drops translated blocks by *linear* address (`uc->uc_invalidate_tb`): at the end of
 * every emu_start for each exit (breakpoint) address, when a hook is deleted for every region
 * it was translated in, and for ctl_remove_cache.  It translates the address through the
 * guest's page tables as an instruction fetch, and that walk sets Accessed bits in the
 * page-table entries (a change no instruction made) or, on a page that is not present,
 * records a fault (CR2, the error code, QEMU's nested-fault bookkeeping).
 *
 * This wrapper replaces the uc_struct's function pointer (offset found and verified by
 * untouched.py).  With paging on it reads the entries the walk will visit, calls Unicorn's
 * function, and writes back every entry and every fault field it changed.  Python holds the
 * same logic (untouched.py) as the fallback.  Used through ctypes; links against nothing.
 */
#include <stdint.h>
#include <string.h>
#include <Python.h>

typedef void (*invalidate_fn)(void *uc, uint64_t start, size_t len);
typedef int (*mem_rw_fn)(void *uc, uint64_t address, void *bytes, uint64_t size);

#define MAX_ENTRIES 6
#define MAX_GUARDS 256

struct bootdbg_untouched {
    void *uc;
    uint8_t *env;               /* CPUX86State */
    invalidate_fn orig;         /* Unicorn's uc_invalidate_tb */
    mem_rw_fn mem_read;         /* uc_mem_read (physical) */
    mem_rw_fn mem_write;        /* uc_mem_write */
    int32_t off_cr, off_a20, off_efer, off_error_code, off_is_int, off_next_eip,
            off_old_exception;
    int32_t enabled;
    uint64_t calls;             /* statistics: calls, and entries / fault fields put back */
    uint64_t restored;
};

static struct bootdbg_untouched *guards[MAX_GUARDS];

int bootdbg_untouched_register(struct bootdbg_untouched *g) {
    /* A guard still registered for this engine address belongs to an engine that is gone (two
     * live engines never share an address): it must not be found instead of this one. */
    for (int i = 0; i < MAX_GUARDS; i++)
        if (guards[i] != NULL && guards[i] != g && guards[i]->uc == g->uc)
            guards[i] = NULL;
    for (int i = 0; i < MAX_GUARDS; i++)
        if (guards[i] == NULL || guards[i] == g) {
            guards[i] = g;
            return 0;
        }
    return -1;
}

int bootdbg_untouched_registered(struct bootdbg_untouched *g) {
    for (int i = 0; i < MAX_GUARDS; i++)
        if (guards[i] == g)
            return 1;
    return 0;
}

void bootdbg_untouched_unregister(struct bootdbg_untouched *g) {
    for (int i = 0; i < MAX_GUARDS; i++)
        if (guards[i] == g)
            guards[i] = NULL;
}

static uint64_t u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

struct entry { uint64_t addr; uint64_t value; uint32_t size; };

/* The page-table entries an instruction-fetch walk of `la` visits (QEMU's order), read now. */
static int walk(struct bootdbg_untouched *g, uint64_t la, struct entry *out) {
    const uint8_t *env = g->env;
    uint64_t cr0 = u64(env + g->off_cr), cr3 = u64(env + g->off_cr + 3 * 8),
             cr4 = u64(env + g->off_cr + 4 * 8), efer = u64(env + g->off_efer);
    uint64_t a20 = (uint64_t)(int64_t)*(const int32_t *)(env + g->off_a20);
    int n = 0;
    if (!(cr0 & (1ull << 31)))
        return 0;
    const uint64_t addr_mask = 0x000ffffffffff000ull;
    if (cr4 & (1 << 5)) {                                  /* PAE (long mode included) */
        uint64_t table;
        int levels;
        if (efer & (1 << 10)) {                            /* LMA: 4 or 5 levels */
            levels = (cr4 & (1 << 12)) ? 5 : 4;
            table = cr3 & addr_mask;
        } else {                                           /* legacy PAE: PDPTE from CR3 */
            levels = 3;
            table = cr3 & 0xffffffe0ull;
        }
        for (int level = levels; level >= 1; level--) {
            int shift = 12 + 9 * (level - 1);
            uint64_t index = (la >> shift) & (level == 3 && levels == 3 ? 3 : 0x1ff);
            struct entry *e = &out[n++];
            e->addr = (table + index * 8) & a20;
            e->size = 8;
            if (g->mem_read(g->uc, e->addr, &e->value, 8) != 0)
                return n - 1;
            if (!(e->value & 1))
                return n;
            if (level <= 3 && level >= 2 && (e->value & 0x80) && !(levels == 3 && level == 3))
                return n;                                   /* a 1 GiB or 2 MiB page */
            table = e->value & addr_mask;
        }
        return n;
    }
    struct entry *pde = &out[n++];                          /* 32-bit paging */
    pde->addr = ((cr3 & 0xfffff000ull) + ((la >> 22) & 0x3ff) * 4) & a20;
    pde->size = 4;
    pde->value = 0;
    if (g->mem_read(g->uc, pde->addr, &pde->value, 4) != 0)
        return 0;
    if (!(pde->value & 1) || ((pde->value & 0x80) && (cr4 & (1 << 4))))
        return n;
    struct entry *pte = &out[n++];
    pte->addr = ((pde->value & 0xfffff000ull) + ((la >> 12) & 0x3ff) * 4) & a20;
    pte->size = 4;
    pte->value = 0;
    if (g->mem_read(g->uc, pte->addr, &pte->value, 4) != 0)
        return n - 1;
    return n;
}

void bootdbg_untouched_invalidate(void *uc, uint64_t start, size_t len) {
    struct bootdbg_untouched *g = NULL;
    for (int i = 0; i < MAX_GUARDS; i++)
        if (guards[i] != NULL && guards[i]->uc == uc) {
            g = guards[i];
            break;
        }
    if (g == NULL)
        return;                 /* (cannot happen: the pointer is put back before unregister) */
    g->calls++;
    uint8_t *env = g->env;
    if (!g->enabled || !(u64(env + g->off_cr) & (1ull << 31))) {
        g->orig(uc, start, len);              /* no paging: Unicorn walks nothing */
        return;
    }
    struct entry entries[MAX_ENTRIES];
    int n = walk(g, start, entries);
    uint64_t cr2 = u64(env + g->off_cr + 2 * 8), next_eip = u64(env + g->off_next_eip);
    int32_t error_code = *(int32_t *)(env + g->off_error_code);
    int32_t is_int = *(int32_t *)(env + g->off_is_int);
    int32_t old_exception = *(int32_t *)(env + g->off_old_exception);
    g->orig(uc, start, len);
    for (int i = 0; i < n; i++) {
        uint64_t now = 0;
        if (g->mem_read(uc, entries[i].addr, &now, entries[i].size) == 0
                && now != entries[i].value) {
            g->mem_write(uc, entries[i].addr, &entries[i].value, entries[i].size);
            g->restored++;
        }
    }
    if (u64(env + g->off_cr + 2 * 8) != cr2 || *(int32_t *)(env + g->off_error_code) != error_code
            || *(int32_t *)(env + g->off_old_exception) != old_exception)
        g->restored++;
    memcpy(env + g->off_cr + 2 * 8, &cr2, 8);
    memcpy(env + g->off_next_eip, &next_eip, 8);
    *(int32_t *)(env + g->off_error_code) = error_code;
    *(int32_t *)(env + g->off_is_int) = is_int;
    *(int32_t *)(env + g->off_old_exception) = old_exception;
}

int bootdbg_untouched_size(void) { return (int)sizeof(struct bootdbg_untouched); }

static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_untouched",
                                 "bootdbg side-effect-free code invalidation (used through ctypes)",
                                 -1, NULL};
PyMODINIT_FUNC PyInit__untouched(void) { return PyModule_Create(&mod); }
