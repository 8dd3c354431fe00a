/*
 * bootdbg native full-trace recorder: a Unicorn code hook and memory-write hook that append one
 * compact delta record per instruction to a buffer Python drains (`debugger/trace/ftnative.py`).
 *
 * The record format and the state slots are defined in `debugger/trace/fulltrace.py`; the pure
 * Python recorder there writes the very same bytes.  Slot offsets come from Python
 * (`uc_layout`), so this file has no copy of them.  It links against nothing: uc_emu_stop,
 * uc_vmem_translate and QEMU's cpu_cc_compute_all are passed in as pointers.
 *
 * The shadow holds the state after the last emitted instruction (`frontier`).  A record for
 * instruction k is emitted when the state after k is observable: at the code hook of the next
 * instruction inside a run slice, or from Python at a run-loop boundary (ft_boundary).  Memory
 * writes between two emissions (guest stores from the hook, host writes from Python through
 * ft_hostwrite) go into the next record.  When the machine goes back in time the recorder stops
 * tracking until execution reaches the frontier again (`resync`).
 *
 * Counting: the instruction about to run is number base + counter (uc->emu_counter), less the
 * instructions QEMU re-ran after a store into their own block since the run began (`*restarts`,
 * kept by the machine's block counter in watch mode, less `restarts_base`: the first attempt
 * was counted and its store hooked, then undone; its writes are dropped when the re-run is
 * seen: at its block, its code hook or the next boundary, whichever comes first).
 * In a self-counting slice (`self_count`) there is no Unicorn count hook: this code hook is the
 * only one, so Unicorn calls it straight from the translated code, and it counts and stops at
 * `limit` exactly as Unicorn's count hook does (uc.c hook_count_cb and helper_uc_tracecode: no
 * hook runs once a stop is requested).
 */
#include <stdint.h>
#include <string.h>
#include <Python.h>

typedef int (*emu_stop_fn)(void *uc);
typedef uint32_t (*cc_fn)(void *env, int op);

#define NSLOTS 77
#define SLOT_RIP 16
#define SLOT_FLAGS 17
#define SLOT_ACTIVITY 76
#define FIRST_SYS 18
#define MAX_RANGES 8
#define CC_OP_EFLAGS 1           /* QEMU's CCOp enum: CC_OP_DYNAMIC, CC_OP_EFLAGS, ... */

struct ft {
    uint8_t *env;
    uint64_t *counter;           /* uc->emu_counter (the count hook's, or ours: self_count) */
    emu_stop_fn emu_stop;
    cc_fn cc_compute;
    const uint8_t *stop_request; /* uc->stop_request */
    void *uc;
    uint64_t base;               /* machine icount at the start of this emu_start */
    uint64_t frontier;           /* icount of the state in `shadow` */
    int32_t tracking;
    int32_t resync_armed;
    int32_t activity;            /* Python's CPU activity (HLT is not in CPUX86State) */
    int32_t chunk_insns;
    uint64_t lost;               /* instructions that could not be recorded (must stay 0) */
    uint64_t gaps;
    /* output */
    uint8_t *buf;
    uint64_t cap, pos, high;
    uint64_t chunk_records;      /* records in the current chunk */
    uint64_t stops;
    int32_t nmarks, max_marks;
    uint64_t *mark_off;          /* chunk starts in buf: offset, icount, records of the chunk */
    uint64_t *mark_icount;       /* before it */
    uint64_t *mark_count;
    /* pending writes (already encoded) */
    uint8_t *wbuf;
    uint64_t wcap, wpos;
    uint64_t wcount;
    uint64_t last_waddr;
    /* slots */
    int32_t slot_off[NSLOTS];
    int32_t slot_size[NSLOTS];   /* 4 or 8; 0 special */
    uint64_t slot_mask[NSLOTS];
    int32_t nranges;             /* ranges [0, nhot) can change in the middle of a block */
    int32_t range_off[MAX_RANGES];
    int32_t range_len[MAX_RANGES];
    int32_t nhot;
    int32_t block_start;         /* compare every range at the next record */
    int32_t next_compare;        /* ... and at the next block's start (this block's end can
                                    change a slot) */
    /* Block classes (Python decodes each block once, fulltrace.block_class): 1 pure (nothing in
     * it changes a slot beyond RIP, RFLAGS and the general registers), 4 only its last
     * instruction can, 2 suspect (one before its end can), 3 waiting for Python.  A new block
     * stops the engine at its start (nothing of it has run or been counted) so Python can
     * decide it. */
    int32_t classify_on;
    int32_t hot;                 /* compare the hot ranges at every instruction of this block */
    int32_t table_full;          /* a new block found no room: Python empties the table */
    uint64_t *keys;
    uint8_t *vals;
    uint32_t table_bits;
    int32_t nqueue, max_queue;
    uint64_t *queue;             /* address, size << 2 | bits per unknown block */
    /* The physical memory of classified blocks, and what of it was written since (self-modifying
     * code): a block whose bytes were written is compared at every instruction from then on.
     * One 64-bit mask of 64-byte lines per page, indexed by physical page number modulo 2^20
     * (aliases only cost speed); each table slot keeps the physical addresses of its block's
     * first and last byte (Python finds them when it classifies the block). */
    uint64_t *code_lines;
    uint64_t *volatile_lines;
    uint64_t *phys_first;
    uint64_t *phys_last;
    int32_t cc_op_off, cc_df_off, eflags_off, hflags_off;
    uint64_t shadow[NSLOTS];
    uint64_t raw[128];           /* the ranges as of the shadow (quick compare) */
    int32_t self_count;          /* count here (no Unicorn count hook), stop past `limit` */
    uint64_t limit;
    const int64_t *restarts;     /* re-runs after a store into the running block (see above) */
    int64_t restarts_seen;       /* ... as of the last check */
    int64_t restarts_base;       /* ... when this run began */
    uint64_t wpos_mark, wcount_mark, waddr_mark;   /* pending writes when the last
                                                       instruction started */
    const uint64_t *rom_ro;      /* pages C0000h-FFFFFh whose stores are dropped (bit per page,
                                    debugger/machine/rom.py), or NULL */
};

static inline uint8_t *put_varint(uint8_t *p, uint64_t v) {
    while (v >= 0x80) { *p++ = (uint8_t)(v | 0x80); v >>= 7; }
    *p++ = (uint8_t)v;
    return p;
}

static inline uint8_t *put_zz(uint8_t *p, uint64_t delta) {
    int64_t s = (int64_t)delta;
    return put_varint(p, ((uint64_t)s << 1) ^ (uint64_t)(s >> 63));
}

static uint64_t slot_value(const struct ft *d, int i, int in_exec) {
    const uint8_t *env = d->env;
    if (i == SLOT_FLAGS) {
        uint64_t fl = *(const uint64_t *)(env + d->eflags_off);
        if (in_exec) {
            int op = *(const int32_t *)(env + d->cc_op_off);
            int32_t df = *(const int32_t *)(env + d->cc_df_off);
            /* Unicorn's hook dispatch leaves stale condition codes in env->eflags.  With
             * CC_OP_EFLAGS (what Unicorn leaves after every hooked instruction that did not
             * change them) they are in cc_src: no call. */
            uint64_t cc = op == CC_OP_EFLAGS
                ? (uint64_t)*(const uint32_t *)(env + d->cc_op_off - 16)   /* cc_src */
                : (uint64_t)d->cc_compute((void *)env, op);
            fl = (fl & ~(uint64_t)(0x8D5 | 0x400)) | cc | ((uint64_t)df & 0x400);
        }
        return fl;
    }
    if (i == SLOT_ACTIVITY) return (uint64_t)d->activity;
    if (d->slot_size[i] == 8) return *(const uint64_t *)(env + d->slot_off[i]) & d->slot_mask[i];
    return *(const uint32_t *)(env + d->slot_off[i]) & d->slot_mask[i];
}

static void copy_raw(struct ft *d) {
    uint8_t *p = (uint8_t *)d->raw;
    for (int i = 0; i < d->nranges; i++) {
        memcpy(p, d->env + d->range_off[i], (size_t)d->range_len[i]);
        p += d->range_len[i];
    }
}

/* Ranges are 8-byte aligned multiples of 8 bytes (checked by Python): an OR of XORs the compiler
 * vectorises.  Only the first `upto` ranges: the others hold state that QEMU changes only in the
 * last instruction of a translation block (MOV CR/DR, CLTS, LMSW, the IRQ-inhibit flag), so
 * they are compared at block starts and whenever the engine is at rest. */
static inline int raw_changed(const struct ft *d, int upto) {
    const uint64_t *r = d->raw;
    uint64_t acc = 0;
    for (int i = 0; i < upto; i++) {
        const uint64_t *e = (const uint64_t *)(d->env + d->range_off[i]);
        int n = d->range_len[i] >> 3;
        for (int j = 0; j < n; j++) acc |= e[j] ^ r[j];
        r += n;
    }
    return acc != 0;
}

/* Start a chunk: its mark, and the keyframe (every slot as u64) at icount `frontier`. */
static void start_chunk(struct ft *d) {
    if (d->nmarks < d->max_marks) {
        d->mark_off[d->nmarks] = d->pos;
        d->mark_icount[d->nmarks] = d->frontier;
        d->mark_count[d->nmarks] = d->chunk_records;
        d->nmarks++;
    } else {
        d->lost++;                       /* Python drains long before this */
    }
    memcpy(d->buf + d->pos, d->shadow, sizeof(d->shadow));
    d->pos += sizeof(d->shadow);
    d->chunk_records = 0;
    d->last_waddr = 0;
}

static void resync(struct ft *d, uint64_t icount, int in_exec) {
    for (int i = 0; i < NSLOTS; i++) d->shadow[i] = slot_value(d, i, in_exec);
    copy_raw(d);
    d->frontier = icount;
    d->tracking = 1;
    d->resync_armed = 0;
    d->wpos = 0;
    d->wcount = 0;
    start_chunk(d);
}

/* The slots beyond RIP, RFLAGS and the general registers that changed (rare: kept out of the
 * per-instruction path). */
static __attribute__((noinline)) uint8_t *emit_other_slots(struct ft *d, int in_exec, uint8_t *p,
                                                           uint8_t *head) {
    uint64_t *sh = d->shadow;
    uint64_t smask = 0, vals[NSLOTS];
    for (int i = FIRST_SYS; i < NSLOTS; i++) {
        uint64_t v = slot_value(d, i, in_exec);
        if (v != sh[i]) { smask |= 1ull << (i - FIRST_SYS); vals[i] = v; }
    }
    if (smask) {
        *head |= 0x80;
        p = put_varint(p, smask);
        for (int i = FIRST_SYS; i < NSLOTS; i++)
            if (smask & (1ull << (i - FIRST_SYS))) {
                p = put_zz(p, vals[i] - sh[i]);
                sh[i] = vals[i];
            }
    }
    copy_raw(d);
    return p;
}

static inline __attribute__((always_inline)) void emit(struct ft *d, int in_exec) {
    uint8_t *p = d->buf + d->pos;
    uint8_t *h = p++;
    uint8_t head = 0;
    uint64_t *sh = d->shadow;
    const uint64_t *regs = (const uint64_t *)d->env;
    uint64_t rip = regs[SLOT_RIP];
    uint64_t delta = rip - sh[SLOT_RIP];
    if (delta >= 1 && delta <= 15) head = (uint8_t)delta;
    else p = put_zz(p, delta);
    sh[SLOT_RIP] = rip;
    uint64_t fl = slot_value(d, SLOT_FLAGS, in_exec);
    if (fl != sh[SLOT_FLAGS]) {
        head |= 0x10;
        p = put_varint(p, fl ^ sh[SLOT_FLAGS]);
        sh[SLOT_FLAGS] = fl;
    }
    /* R8-R15 change only in 64-bit code (HF_LMA), or from outside (which resyncs). */
    int ngpr = (*(const uint32_t *)(d->env + d->hflags_off) & (1u << 14)) ? 16 : 8;
    uint32_t mask = 0;
    for (int i = 0; i < ngpr; i++) mask |= (uint32_t)(regs[i] != sh[i]) << i;
    if (mask) {
        head |= 0x20;
        p = put_varint(p, mask);
        for (int i = 0; i < ngpr; i++)
            if (mask & (1u << i)) { p = put_zz(p, regs[i] - sh[i]); sh[i] = regs[i]; }
    }
    int changed;
    if (!in_exec || d->block_start) changed = raw_changed(d, d->nranges);
    else changed = d->hot ? raw_changed(d, d->nhot) : 0;
    d->block_start = 0;
    if (changed || (uint64_t)d->activity != sh[SLOT_ACTIVITY]) {
        p = emit_other_slots(d, in_exec, p, &head);
    }
    if (d->wcount) {
        head |= 0x40;
        p = put_varint(p, d->wcount);
        memcpy(p, d->wbuf, d->wpos);
        p += d->wpos;
        d->wpos = 0;
        d->wcount = 0;
    }
    *h = head;
    d->pos = (uint64_t)(p - d->buf);
    d->frontier++;
    if (++d->chunk_records >= (uint64_t)d->chunk_insns) start_chunk(d);
}

/* QEMU undid the instruction that last started (its store hit its own block) to run it again:
 * what it stored the first time was not stored. */
static inline void check_restart(struct ft *d) {
    int64_t r = *d->restarts;
    if (__builtin_expect(r != d->restarts_seen, 0)) {
        d->restarts_seen = r;
        if (d->tracking && d->wpos_mark <= d->wpos) {
            d->wpos = d->wpos_mark;
            d->wcount = d->wcount_mark;
            d->last_waddr = d->waddr_mark;
        }
    }
}

static inline void mark_writes(struct ft *d) {
    d->wpos_mark = d->wpos;
    d->wcount_mark = d->wcount;
    d->waddr_mark = d->last_waddr;
}

/* The machine is at icount `done` with the state after it observable (in_exec: inside a slice). */
static void observe(struct ft *d, uint64_t done, int in_exec) {
    if (!d->tracking) {
        if (d->resync_armed && done == d->frontier) resync(d, done, in_exec);
        return;
    }
    if (done == d->frontier + 1) {
        emit(d, in_exec);
    } else if (done > d->frontier + 1) {      /* jumped forward: a gap, then go on from here */
        d->gaps++;
        resync(d, done, in_exec);
    } else if (done < d->frontier) {          /* went back in time */
        d->tracking = 0;
        d->resync_armed = 1;
        d->wpos = 0;
        d->wcount = 0;
    }
}

static uint64_t block_key(uint64_t address, uint32_t size, uint32_t bits) {
    return ((address << 16) | ((uint64_t)(size & 0x3FFF) << 2) | bits) + 1;
}

static uint32_t slot_of(const struct ft *d, uint64_t key) {
    return (uint32_t)((key * 0x9E3779B97F4A7C15ULL) >> (64 - d->table_bits));
}

#define PAGE_OF(a) ((uint32_t)(((a) >> 12) & 0xFFFFF))

/* The 64-byte lines of [first, last] (both in the page of `first`, last >= first). */
static inline uint64_t line_mask(uint64_t first, uint64_t last) {
    unsigned lo = (unsigned)(first >> 6) & 63, hi = (unsigned)(last >> 6) & 63;
    return (hi == 63 ? ~0ull : (2ull << hi) - 1) & ~((1ull << lo) - 1);
}

/* Apply fn to the page pieces of [first, last] (physical; at most two pages for a block). */
#define FOR_PIECES(first, last, body) do { \
        uint64_t a_ = (first), l_ = (last); \
        while (1) { \
            uint64_t e_ = (a_ | 0xFFF) < l_ ? (a_ | 0xFFF) : l_; \
            uint32_t pg = PAGE_OF(a_); uint64_t m = line_mask(a_, e_); \
            body; \
            if (e_ >= l_) break; \
            a_ = e_ + 1; \
        } \
    } while (0)

/* Were any bytes of a block written since it was classified (its lines as of then)? */
static inline int volatile_block(const struct ft *d, uint32_t slot, uint32_t size) {
    uint64_t first = d->phys_first[slot], last = d->phys_last[slot];
    if ((first ^ last) >> 12 == 0 || size == 0)
        return (d->volatile_lines[PAGE_OF(first)] & line_mask(first, last)) != 0;
    return (d->volatile_lines[PAGE_OF(first)] & line_mask(first, first | 0xFFF)) != 0
        || (d->volatile_lines[PAGE_OF(last)] & line_mask(last & ~0xFFFull, last)) != 0;
}

/* A write to physical memory: the lines of classified code it hits become volatile. */
static inline void note_code_write(struct ft *d, uint64_t addr, uint64_t size) {
    if (size == 0) return;
    FOR_PIECES(addr, addr + size - 1, {
        uint64_t hit = d->code_lines[pg] & m;
        if (hit) d->volatile_lines[pg] |= hit;
    });
}

/* The table slot of `key`, or -1. */
static int64_t lookup(const struct ft *d, uint64_t key) {
    uint32_t mask = (1u << d->table_bits) - 1, i = slot_of(d, key);
    for (uint32_t n = 0; n <= mask; n++, i = (i + 1) & mask) {
        if (d->keys[i] == key) return i;
        if (d->keys[i] == 0) return -1;
    }
    return -1;
}

/* Enter `key` with class `val`: its slot, or -1 when the table is (half) full. */
static int64_t insert(struct ft *d, uint64_t key, int val) {
    uint32_t mask = (1u << d->table_bits) - 1, i = slot_of(d, key);
    for (uint32_t n = 0; n <= mask / 2; n++, i = (i + 1) & mask) {
        if (d->keys[i] == key || d->keys[i] == 0) {
            d->keys[i] = key;
            d->vals[i] = (uint8_t)val;
            return i;
        }
    }
    return -1;
}

/* Python's verdict on a block whose first and last bytes are at physical `first` and `last`
 * (in one page, or in two: not necessarily adjacent ones); 0 when the table is full (Python
 * clears it). */
int bootdbg_ft_mark(struct ft *d, uint64_t address, uint32_t size, uint32_t bits, int val,
                    uint64_t first, uint64_t last) {
    int64_t i = insert(d, block_key(address, size, bits), val);
    if (i < 0) return 0;
    if ((first ^ last) >> 12 == 0 && last < first) last = first;
    d->phys_first[i] = first;
    d->phys_last[i] = last;
    if ((first ^ last) >> 12 == 0) {
        FOR_PIECES(first, last, { d->code_lines[pg] |= m; });
    } else {
        FOR_PIECES(first, first | 0xFFF, { d->code_lines[pg] |= m; });
        FOR_PIECES(last & ~0xFFFull, last, { d->code_lines[pg] |= m; });
    }
    return 1;
}

/* At a block start (before the count hook sees its first instruction, so stopping here counts
 * nothing that did not run): note it, look its class up, and stop the engine when Python must
 * drain the buffer. */
void bootdbg_ft_block_cb(void *uc, uint64_t address, uint32_t size, void *user_data) {
    struct ft *d = (struct ft *)user_data;
    check_restart(d);
    d->block_start = d->next_compare;   /* (what the block before this one ended with) */
    d->next_compare = 1;
    d->hot = 1;
    if (d->classify_on) {
        uint32_t hf = *(const uint32_t *)(d->env + d->hflags_off);
        uint32_t bits = (hf >> 15) & 1 ? 2 : ((hf >> 4) & 1 ? 1 : 0);
        int64_t slot = lookup(d, block_key(address, size, bits));
        int cls = slot < 0 ? 0 : d->vals[slot];
        if (cls == 1 || cls == 4) {
            d->hot = volatile_block(d, (uint32_t)slot, size);
            /* (QEMU clears the interrupt shadow of an STI or MOV SS at the end of the block
             * after it: HF_INHIBIT_IRQ) */
            d->next_compare = cls == 4 || d->hot || (hf & (1u << 3));
        } else if (cls == 0 && d->nqueue < d->max_queue) {
            /* First sight: compared fully this time; stop so Python decides it now (or, the
             * table being full, empties it). */
            if (insert(d, block_key(address, size, bits), 3) >= 0) {
                d->queue[2 * d->nqueue] = address;
                d->queue[2 * d->nqueue + 1] = ((uint64_t)size << 2) | bits;
                d->nqueue++;
            } else {
                d->table_full = 1;
            }
            d->stops++;
            d->emu_stop(uc);
            return;
        }
    }
    if (d->pos > d->high) {
        d->stops++;
        d->emu_stop(uc);
    }
}

void bootdbg_ft_code_cb(void *uc, uint64_t address, uint32_t size, void *user_data) {
    struct ft *d = (struct ft *)user_data;
    (void)address; (void)size;
    if (d->self_count) {
        if (*d->stop_request) return;
        if (++*d->counter > d->limit) {
            d->emu_stop(uc);
            return;
        }
    }
    /* (Unicorn does not re-derive the state before the write hook: the machine's block counter
     * sets skip_sync_pc_on_exit in counted runs, see _blockcount.c) */
    check_restart(d);
    uint64_t done = d->base + *d->counter - 1 - (uint64_t)(d->restarts_seen - d->restarts_base);
    if (__builtin_expect(d->tracking && done == d->frontier + 1, 1))
        emit(d, 1);                     /* (the usual case, inlined) */
    else
        observe(d, done, 1);
    mark_writes(d);
}

#define ROM_BASE 0xC0000u
#define ROM_END 0x100000u

static void add_write(struct ft *d, uint64_t addr, const uint8_t *data, uint64_t size) {
    if (d->wpos + size + 32 > d->wcap) { d->lost++; return; }
    uint8_t *p = d->wbuf + d->wpos;
    p = put_varint(p, size);
    p = put_zz(p, addr - d->last_waddr);
    memcpy(p, data, size);
    p += size;
    d->last_waddr = addr + size;
    d->wpos = (uint64_t)(p - d->wbuf);
    d->wcount++;
}

void bootdbg_ft_write_cb(void *uc, int type, uint64_t address, int size, int64_t value,
                         void *user_data) {
    struct ft *d = (struct ft *)user_data;
    (void)type;
    if (size <= 0 || size > 8) return;
    (void)uc;
    /* Unicorn passes the physical address (after paging and the A20 mask). */
    note_code_write(d, address, (uint64_t)size);
    if (!d->tracking) return;
    uint8_t bytes[8];
    memcpy(bytes, &value, 8);          /* little-endian host */
    uint64_t ro = d->rom_ro != NULL ? *d->rom_ro : 0;
    if (ro == 0 || address >= ROM_END || address + (uint64_t)size <= ROM_BASE) {
        add_write(d, address, bytes, (uint64_t)size);
        return;
    }
    /* (the write hook runs before the store: bytes in a read-only page will not land) */
    int start = -1;
    for (int i = 0; i <= size; i++) {
        uint64_t a = address + (uint64_t)i;
        int lands = i < size && !(a >= ROM_BASE && a < ROM_END
                                  && (ro >> ((a - ROM_BASE) >> 12) & 1));
        if (lands && start < 0) start = i;
        if (!lands && start >= 0) {
            add_write(d, address + (uint64_t)start, bytes + start, (uint64_t)(i - start));
            start = -1;
        }
    }
}

/* A write by Python (interrupt delivery, BIOS services) while the engine is at rest. */
void bootdbg_ft_hostwrite(struct ft *d, uint64_t phys, const uint8_t *data, uint64_t size) {
    note_code_write(d, phys, size);
    if (!d->tracking) return;
    add_write(d, phys, data, size);
}

/* A run-loop boundary: the machine at rest at `icount`. */
void bootdbg_ft_boundary(struct ft *d, uint64_t icount) {
    check_restart(d);
    observe(d, icount, 0);
    mark_writes(d);
    /* Python may change the state before the engine runs: compare all. */
    d->block_start = d->next_compare = 1;
}

/* Start (or restart after an edit): a new chunk with the state now at `icount`. */
void bootdbg_ft_start(struct ft *d, uint64_t icount) {
    d->restarts_seen = d->restarts_base = *d->restarts;
    resync(d, icount, 0);
    mark_writes(d);
}

/* The state changed from outside (a user edit): record `icount` again, from the state the
 * machine has when it next runs (a new chunk). */
void bootdbg_ft_rearm(struct ft *d, uint64_t icount) {
    d->tracking = 0;
    d->resync_armed = 1;
    d->frontier = icount;
    d->wpos = 0;
    d->wcount = 0;
}

/* Python took the buffer's contents. */
void bootdbg_ft_drained(struct ft *d) { d->pos = 0; d->nmarks = 0; }

int bootdbg_ft_size(void) { return (int)sizeof(struct ft); }

static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_fulltrace",
                                 "bootdbg native full-trace hooks (used through ctypes)", -1,
                                 NULL};
PyMODINIT_FUNC PyInit__fulltrace(void) { return PyModule_Create(&mod); }
