/*
 * bootdbg native fast path: a Unicorn block hook that detects state transitions.
 *
 * At every translation-block start it compares the watched part of QEMU's CPUX86State (segment
 * caches, descriptor-table registers, control registers, A20 mask, EFER, CPL, EFLAGS.VM/IOPL)
 * with a baseline.  On the first difference it records the instruction counts of the previous
 * and the current block start and stops the engine; Python then localises the exact
 * instruction by re-executing from a checkpoint.  The offsets are the ones `uc_layout`
 * verifies at start-up and are passed in by Python, so this file has no copy of them.
 *
 * It is a plain shared object used through ctypes (the Python module init is only there so the
 * package build compiles it); it links against nothing: uc_emu_stop is passed as a pointer.
 */
#include <stdint.h>
#include <string.h>
#include <Python.h>

typedef int (*emu_stop_fn)(void *uc);

#define MAX_RANGES 8

struct bootdbg_det {
    const uint8_t *env;            /* CPUX86State */
    const uint64_t *counter;       /* &uc->emu_counter */
    emu_stop_fn emu_stop;
    uint64_t base;                 /* machine icount at the start of this emu_start */
    uint64_t prev;                 /* absolute icount at the previous block start */
    uint64_t hit_prev, hit_now;
    int32_t hit;
    int32_t armed;
    int32_t nranges;
    int32_t eflags_off;
    uint32_t eflags_mask;
    int32_t hflags_off;
    uint32_t hflags_mask;
    int32_t off[MAX_RANGES];
    int32_t len[MAX_RANGES];
    uint8_t baseline[1024];
    uint32_t base_eflags, base_hflags;
    /* Block classification: blocks that may change watched state without ending. */
    int32_t suspects_on;
    int32_t hit_kind;              /* 1 transition, 2 unclassified block, 3 suspect block */
    uint64_t hit_addr;
    uint32_t hit_size;
    uint32_t hit_bits;
    uint64_t *keys;                /* open-addressing table, 0 = empty */
    uint8_t *vals;                 /* 1 clean, 2 suspect */
    uint32_t table_bits;
    uint32_t pad;
    /* The last block that started with the watched state unchanged (size 0: none since the
       sync): on a transition hit, the block whose instructions made the change. */
    uint64_t last_addr;
    uint32_t last_size;
    uint32_t last_bits;
};

static uint64_t block_key(uint64_t address, uint32_t size, uint32_t bits) {
    return ((address << 16) | ((uint64_t)(size & 0x3FFF) << 2) | bits) + 1;
}

static uint32_t slot_of(const struct bootdbg_det *d, uint64_t key) {
    return (uint32_t)((key * 0x9E3779B97F4A7C15ULL) >> (64 - d->table_bits));
}

/* Look a block up: 0 unknown, 1 clean, 2 suspect. */
static int lookup(const struct bootdbg_det *d, uint64_t key) {
    uint32_t mask = (1u << d->table_bits) - 1, i = slot_of(d, key);
    for (uint32_t n = 0; n <= mask; n++, i = (i + 1) & mask) {
        if (d->keys[i] == key) return d->vals[i];
        if (d->keys[i] == 0) return 0;
    }
    return 0;
}

/* Record a block's class; returns 0 when the table is full. */
int bootdbg_det_mark(struct bootdbg_det *d, uint64_t address, uint32_t size, uint32_t bits,
                     int val) {
    uint64_t key = block_key(address, size, bits);
    uint32_t mask = (1u << d->table_bits) - 1, i = slot_of(d, key);
    for (uint32_t n = 0; n <= mask; n++, i = (i + 1) & mask) {
        if (d->keys[i] == key || d->keys[i] == 0) {
            d->keys[i] = key;
            d->vals[i] = (uint8_t)val;
            return 1;
        }
    }
    return 0;
}

static int total_len(const struct bootdbg_det *d) {
    int n = 0;
    for (int i = 0; i < d->nranges; i++) n += d->len[i];
    return n;
}

/* Copy the watched fields into the baseline. */
void bootdbg_det_sync(struct bootdbg_det *d) {
    uint8_t *p = d->baseline;
    for (int i = 0; i < d->nranges; i++) {
        memcpy(p, d->env + d->off[i], (size_t)d->len[i]);
        p += d->len[i];
    }
    d->base_eflags = *(const uint32_t *)(d->env + d->eflags_off) & d->eflags_mask;
    d->base_hflags = *(const uint32_t *)(d->env + d->hflags_off) & d->hflags_mask;
    d->hit = 0;
    d->hit_kind = 0;
    d->last_size = 0;
}

static int changed(const struct bootdbg_det *d) {
    if ((*(const uint32_t *)(d->env + d->eflags_off) & d->eflags_mask) != d->base_eflags)
        return 1;
    if ((*(const uint32_t *)(d->env + d->hflags_off) & d->hflags_mask) != d->base_hflags)
        return 1;
    const uint8_t *p = d->baseline;
    for (int i = 0; i < d->nranges; i++) {
        if (memcmp(p, d->env + d->off[i], (size_t)d->len[i]) != 0) return 1;
        p += d->len[i];
    }
    return 0;
}

void bootdbg_block_cb(void *uc, uint64_t address, uint32_t size, void *user_data) {
    struct bootdbg_det *d = (struct bootdbg_det *)user_data;
    (void)address; (void)size;
    if (!d->armed || d->hit) return;
    uint64_t now = d->base + *d->counter;
    if (changed(d)) {
        d->hit = 1;
        d->hit_kind = 1;
        d->hit_prev = d->prev;
        d->hit_now = now;
        d->emu_stop(uc);
        return;
    }
    d->prev = now;
    uint32_t hf = *(const uint32_t *)(d->env + d->hflags_off);
    uint32_t bits = (hf >> 15) & 1 ? 2 : ((hf >> 4) & 1 ? 1 : 0);
    d->last_addr = address;
    d->last_size = size;
    d->last_bits = bits;
    if (d->suspects_on) {
        int cls = lookup(d, block_key(address, size, bits));
        if (cls != 1) {
            d->hit = 1;
            d->hit_kind = cls == 2 ? 3 : 2;
            d->hit_addr = address;
            d->hit_size = size;
            d->hit_bits = bits;
            d->hit_prev = d->hit_now = now;
            d->emu_stop(uc);
        }
    }
}

int bootdbg_det_size(void) { return (int)sizeof(struct bootdbg_det); }
int bootdbg_det_total(const struct bootdbg_det *d) { return total_len(d); }

static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_native",
                                 "bootdbg native block hook (used through ctypes)", -1, NULL};
PyMODINIT_FUNC PyInit__native(void) { return PyModule_Create(&mod); }
