/*
 * bootdbg native port I/O for the hot ports: the 8254's counters (40h-42h), its control port
 * (43h: counter latch and read-back commands) and system control port B (61h), answered inside
 * Unicorn's run loop without calling Python.  Boot loaders calibrate their TSC by polling bit 5
 * of port 61h (OUT2) with an IN every third instruction; through a Python hook each costs tens
 * of microseconds.
 *
 * This file is the C twin of `devices/pit.py` (PitChannel.state, counter_value, read,
 * latch_count, status_byte; Pit.read8, _control): the same integer arithmetic, the same time
 * (virtual ns = instruction count * ns_per_insn, the count taken exactly as the Python hooks
 * take it).  The Python device stays the owner of the state: `hotports.py` copies the PIT into
 * this struct before each emu_start and copies back what the C side changed (latches, status,
 * the LSB/MSB read flip-flop) after it, and before any Python I/O hook runs.
 *
 * An access inside a fast slice is placed as portio.InBlock places it: the first instruction of
 * the block counted last is its first; for the others, the index Python's decoding found the
 * first time, kept per translated block (`cache`).
 *
 * RDTSC (`bootdbg_hotports_rdtsc`) is answered the same way: EDX:EAX = (clock base + the
 * instructions placed as above) * ns_per_insn * tsc_mult, what traps.py's hook computes.
 *
 * COM1's LSR reads and THR writes (the serial console's poll-then-send, twice per byte) are
 * answered here while they change nothing but the bytes sent (`uart_access`): LSR's value is
 * copied in with the PIT, and the bytes written to THR are kept in `tx` for hotports.py to send
 * through the Python UART, in order, before any Python hook runs and after the run.
 *
 * Anything else -- another port, a 16/32-bit access, an access the I/O permission check may
 * refuse, a watcher, a pending interrupt, a stop already requested, an instruction the fast
 * slice cannot place -- goes to the Python hook (`py_in`/`py_out`), as before.
 * Used through ctypes; links against nothing.
 */
#include <stdint.h>
#include <Python.h>

typedef uint32_t (*py_in_fn)(void *uc, uint32_t port, int size, void *ud);
typedef void (*py_out_fn)(void *uc, uint32_t port, int size, uint32_t value, void *ud);
typedef void (*py_export_fn)(void *uc);
typedef uint32_t (*py_rdtsc_fn)(void *uc, void *ud);

struct hot_channel {
    int32_t mode, rw, bcd, count;            /* count: the register as written (0 = 65536) */
    int32_t loaded, running, triggered, null_count;
    int64_t origin_ns, held_ns;
    int32_t latch_len, latch0, latch1, status;   /* status < 0: none */
    int32_t read_msb, pad;
};

struct bootdbg_hotports {
    const uint8_t *env;            /* CPUX86State */
    const uint8_t *uch;            /* uc_struct */
    py_in_fn py_in;
    py_out_fn py_out;
    /* the block counter's state (blockcount.py): enabled, counter, last, last_pc, last_size */
    const int32_t *bc_enabled;
    const uint64_t *bc_counter, *bc_last, *bc_last_pc, *bc_last_size;
    int64_t off_eip, off_eflags, off_hflags, off_csbase, off_cr0, off_stop, off_counter;
    int32_t armed;                 /* 1: the struct holds the PIT's state, C may answer;
                                      2: it may, once the state is copied in (py_export) */
    int32_t pic_pending;           /* the PIC has a vector to deliver, and 2 if the stop
                                      when IF becomes 1 is armed (irqwait.py) */
    int32_t in_mask;               /* bit i: port 40h+i (i<4) handled; bit 4: port 61h */
    int32_t out_mask;              /* bit 3: port 43h (latch / read-back commands) */
    int32_t dirty;                 /* C changed the state since it was copied in */
    int32_t port61;
    int64_t clock_base;            /* the clock's icount at the slice's start */
    int64_t ns_per_insn;
    int64_t refresh_ns;
    struct hot_channel ch[3];
    uint64_t handled;              /* statistics */
    uint64_t placed;               /* ... of which inside fast slices */
    /* Where instructions sit inside blocks, learnt from Python (portio.InBlock decodes the
     * block's bytes): keyed by QEMU's TranslationBlock, valid until QEMU's next full flush of
     * translated code (before it a TranslationBlock is never freed, so one pointer is one
     * translation of one set of bytes). */
    const uint8_t *cpu;            /* CPUState (its tb_jmp_cache: the running block's TB) */
    int64_t jmp_off;               /* 0: no cache */
    const uint32_t *flush_count;   /* QEMU's tb_ctx.tb_flush_count */
    py_export_fn py_export;        /* copies the PIT in (hotports.py: _export), armed 2 -> 0/1 */
    const uint8_t *learn_tb;       /* the block an access handed to Python ran in ... */
    uint64_t learn_pc;
    int64_t learn_idx;             /* ... and where Python placed it (-1: it did not) */
    struct { const uint8_t *tb; uint64_t pc; uint32_t flush; int32_t idx; } cache[256];
    int64_t hint;                  /* for an access handed to Python inside a fast slice: the
                                      instructions of the slice up to it, as done_here counts
                                      them, where the C side knows (-1: Python decodes) */
    /* RDTSC (traps.py _hook_rdtsc, devices/tsc.py): the TSC is the clock's ns times tsc_mult */
    py_rdtsc_fn py_rdtsc;          /* the Python hook, for what C does not answer */
    int64_t off_regs;              /* env->regs[] (EAX, then ECX, EDX) */
    int64_t tsc_mult;              /* TSC ticks per virtual ns */
    int32_t tsc_ok;                /* set by py_export in this run: no I/O watcher (0 before
                                      the export and after the run) */
    int32_t pad2;
    uint64_t tsc_handled;          /* statistics: RDTSCs answered here */
    /* COM1 (devices/uart.py): LSR reads and THR writes, while they change nothing but the
     * bytes sent.  A serial console polls LSR for THRE before every byte it writes. */
    int32_t uart_base;             /* its base port; -1: C answers none of its ports */
    int32_t uart_lsr;              /* what an LSR read gives while it changes nothing (no line
                                      error to clear); -1: Python reads it */
    int32_t uart_tx;               /* THR writes may be kept here: DLAB 0, no loopback, no THRE
                                      interrupt enabled, nobody watching the bytes as they go */
    int32_t tx_len;                /* bytes kept, for hotports.py to send, in order */
    uint8_t tx[256];
    uint64_t uart_handled;         /* statistics: LSR reads and THR writes answered here */
};

#define PIT_HZ 1193182
#define NS_PER_S 1000000000LL
#define CR0_PE 1
#define RF_VM (1u << 17)
#define RF_IF (1u << 9)

static int64_t pymod(int64_t a, int64_t m) { int64_t r = a % m; return r < 0 ? r + m : r; }

static int64_t from_bcd(int64_t v) {
    return ((v >> 12) & 0xF) * 1000 + ((v >> 8) & 0xF) * 100 + ((v >> 4) & 0xF) * 10 + (v & 0xF);
}

static int64_t to_bcd(int64_t v) {        /* int(str(v % 10000), 16) */
    v = pymod(v, 10000);
    return ((v / 1000) << 12) | (((v / 100) % 10) << 8) | (((v / 10) % 10) << 4) | (v % 10);
}

static int eff_mode(const struct hot_channel *c) { return c->mode >= 6 ? c->mode - 4 : c->mode; }

static int64_t period(const struct hot_channel *c) {
    int64_t n = c->bcd ? (from_bcd(c->count) ? from_bcd(c->count) : 10000)
                       : (c->count ? c->count : 0x10000);
    int m = eff_mode(c);
    return (m == 2 || m == 3) && n < 2 ? 2 : n;
}

static int64_t ticks(const struct hot_channel *c, int64_t now) {
    int64_t e = c->running ? now - c->origin_ns : c->held_ns;
    if (e < 0)
        e = 0;
    return (int64_t)(((__int128)e * PIT_HZ) / NS_PER_S);
}

/* PitChannel.state: (count element, OUT) */
static int64_t state(const struct hot_channel *c, int64_t now, int *out) {
    int mode = eff_mode(c);
    int64_t n = period(c);
    if (!c->loaded) { *out = mode != 0; return 0; }
    if ((mode == 1 || mode == 5) && !c->triggered) { *out = 1; return n; }
    int64_t t = ticks(c, now);
    if (mode == 0 || mode == 1) { *out = t >= n; return n - t; }
    if (mode == 4 || mode == 5) { *out = t != n; return n - t; }
    if (!c->running) { *out = 1; return n - pymod(t, n); }
    int64_t p = pymod(t, n);
    if (mode == 2) { *out = p != n - 1; return n - p; }
    int64_t high = (n + 1) / 2;
    if (p < high) { *out = 1; return n % 2 == 0 ? n - 2 * p : n - 1 - 2 * p; }
    int64_t q = p - high;
    *out = 0;
    return n % 2 == 0 ? n - 2 * q : n - 1 - 2 * q;
}

static int64_t counter_value(const struct hot_channel *c, int64_t now) {
    int out;
    int64_t ce = state(c, now, &out);
    return c->bcd ? to_bcd(pymod(ce, 10000)) : pymod(ce, 0x10000);
}

static void latch_count(struct hot_channel *c, int64_t now) {
    if (c->latch_len)
        return;
    int64_t v = counter_value(c, now);
    if (c->rw == 1) { c->latch_len = 1; c->latch0 = (int32_t)(v & 0xFF); }
    else if (c->rw == 2) { c->latch_len = 1; c->latch0 = (int32_t)(v >> 8); }
    else { c->latch_len = 2; c->latch0 = (int32_t)(v & 0xFF); c->latch1 = (int32_t)(v >> 8); }
}

static int32_t status_byte(const struct hot_channel *c, int64_t now) {
    int out;
    state(c, now, &out);
    return (out << 7) | (c->null_count << 6) | (c->rw << 4) | (c->mode << 1) | c->bcd;
}

static uint32_t channel_read(struct hot_channel *c, int64_t now) {
    if (c->status >= 0) {
        int32_t v = c->status;
        c->status = -1;
        return (uint32_t)v;
    }
    if (c->latch_len) {
        int32_t v = c->latch0;
        c->latch0 = c->latch1;
        c->latch_len--;
        return (uint32_t)v;
    }
    int64_t v = counter_value(c, now);
    if (c->rw == 1)
        return (uint32_t)(v & 0xFF);
    if (c->rw == 2)
        return (uint32_t)(v >> 8);
    c->read_msb = !c->read_msb;
    return (uint32_t)(c->read_msb ? (v & 0xFF) : (v >> 8));
}

#define TB_PC 0
#define TB_SIZE 20
#define TB_ICOUNT 22
#define TB_CFLAGS 24
#define CF_COUNT_MASK 0x7fff

static unsigned jmp_hash(uint64_t pc) {
    uint64_t tmp = pc ^ (pc >> 6);
    return (unsigned)(((tmp >> 6) & (4096 - 64)) | (tmp & 63));
}

/* The TranslationBlock of the block running now (the one the block counter counted last). */
static const uint8_t *running_tb(struct bootdbg_hotports *h) {
    if (!h->jmp_off)
        return NULL;
    uint64_t start = *h->bc_last_pc;
    const uint8_t *tb = ((const uint8_t *const *)(h->cpu + h->jmp_off))[jmp_hash(start)];
    if (tb == NULL || *(const uint64_t *)(tb + TB_PC) != start
            || *(const uint16_t *)(tb + TB_SIZE) != *h->bc_last_size
            || *(const uint16_t *)(tb + TB_ICOUNT) != *h->bc_last
            || (*(const uint32_t *)(tb + TB_CFLAGS) & CF_COUNT_MASK))
        return NULL;
    return tb;
}

static unsigned cache_slot(const uint8_t *tb, uint64_t pc) {
    uint64_t k = (uint64_t)(uintptr_t)tb ^ (pc * 0x9E3779B97F4A7C15ull);
    return (unsigned)((k >> 24) & 255);
}

/* Where the access sits in a fast slice, for Python to take instead of decoding the block
 * (portio.FastIo.enter): the same count as done_here's, without its may-C-answer checks. */
static int64_t place_hint(struct bootdbg_hotports *h) {
    h->learn_tb = NULL;
    if (*h->bc_enabled != 1 || *h->bc_last < 1)
        return -1;
    const uint8_t *env = h->env;
    uint64_t pc = *(const uint64_t *)(env + h->off_eip) + *(const uint64_t *)(env + h->off_csbase);
    uint64_t start = *h->bc_last_pc;
    int64_t idx;
    if (pc < start || pc >= start + *h->bc_last_size)
        return -1;
    if (pc == start) {
        idx = 0;
    } else {
        const uint8_t *tb = running_tb(h);
        if (tb == NULL)
            return -1;
        unsigned slot = cache_slot(tb, pc);
        if (h->cache[slot].tb != tb || h->cache[slot].pc != pc
                || h->cache[slot].flush != *h->flush_count) {
            h->learn_tb = tb;
            h->learn_pc = pc;
            return -1;
        }
        idx = h->cache[slot].idx;
    }
    if (idx >= (int64_t)*h->bc_last)
        return -1;
    return (int64_t)(*h->bc_counter - *h->bc_last) + idx + 1;
}

/* May C answer an access here, whatever its time?  0: Python decides. */
static int may_answer(struct bootdbg_hotports *h) {
    const uint8_t *uch = h->uch, *env = h->env;
    if (*(const uint8_t *)(uch + h->off_stop))
        return 0;                       /* a stop is asked for: Python decides what happens */
    if (h->pic_pending) {
        /* Deliverable now (IF=1), or nothing stops the run when IF becomes 1: the Python
         * hooks stop after the access.  Waiting with IF=0 for the armed stop: nothing to do. */
        if (h->pic_pending != 2 || (*(const uint32_t *)(h->env + h->off_eflags) & RF_IF))
            return 0;
    }
    uint64_t cr0 = *(const uint64_t *)(env + h->off_cr0);
    if (cr0 & CR0_PE) {
        uint32_t eflags = *(const uint32_t *)(env + h->off_eflags);
        uint32_t cpl = *(const uint32_t *)(env + h->off_hflags) & 3;
        if ((eflags & RF_VM) || cpl > ((eflags >> 12) & 3))
            return 0;                   /* the TSS bitmap decides: Python reads it */
    }
    int32_t en = *h->bc_enabled;
    return en == 0 || en == 1 || en == 2;
}

/* The instructions of this run before the one at EIP, itself included (as the Python hooks'
 * clock); -1: only Python can tell. */
static int64_t done_here(struct bootdbg_hotports *h) {
    const uint8_t *uch = h->uch;
    if (!may_answer(h))
        return -1;
    if (*h->bc_enabled == 1) {          /* a fast slice: blocks counted as they start */
        int64_t n = place_hint(h);
        if (n >= 0)
            h->placed++;
        return n;
    }
    return (int64_t)*(const uint64_t *)(uch + h->off_counter);
}

/* COM1's LSR read or THR write answered here (1), or left to Python (0).  Neither depends on
 * the time, so nothing is placed: a fast slice goes on as the Python hook would let it, which
 * places the access only to give a device the time. */
static int uart_access(struct bootdbg_hotports *h, void *uc, uint32_t port, int size, int write,
                       uint32_t value, uint32_t *result) {
    if (h->uart_base < 0 || size != 1 || port != (uint32_t)h->uart_base + (write ? 0 : 5))
        return 0;
    if (h->armed == 2)
        h->py_export(uc);             /* the first hot access of the run: the state in */
    if (h->armed != 1 || (write ? !h->uart_tx || h->tx_len >= (int32_t)sizeof h->tx
                                : h->uart_lsr < 0) || !may_answer(h))
        return 0;
    if (write)
        h->tx[h->tx_len++] = (uint8_t)value;
    else
        *result = (uint32_t)h->uart_lsr;
    h->uart_handled++;
    return 1;
}

/* After Python handled an access C could not place: remember where Python placed it. */
static void learn(struct bootdbg_hotports *h, const uint8_t *tb, uint64_t pc, uint32_t flush) {
    if (tb == NULL || h->learn_idx < 0 || *h->flush_count != flush)
        return;
    unsigned slot = cache_slot(tb, pc);
    h->cache[slot].tb = tb;
    h->cache[slot].pc = pc;
    h->cache[slot].flush = flush;
    h->cache[slot].idx = (int32_t)h->learn_idx;
}

static uint32_t py_in(struct bootdbg_hotports *h, void *uc, uint32_t port, int size, void *ud) {
    const uint8_t *tb = h->learn_tb;
    uint64_t pc = h->learn_pc;
    uint32_t flush = *h->flush_count;
    h->learn_idx = -1;
    uint32_t v = h->py_in(uc, port, size, ud);
    learn(h, tb, pc, flush);
    return v;
}

uint32_t bootdbg_hotports_in(void *uc, uint32_t port, int size, void *ud) {
    struct bootdbg_hotports *h = (struct bootdbg_hotports *)ud;
    int bit = port == 0x61 ? 4 : (port >= 0x40 && port <= 0x43 ? (int)(port - 0x40) : -1);
    h->learn_tb = NULL;
    uint32_t lsr;
    if (uart_access(h, uc, port, size, 0, 0, &lsr))
        return lsr;
    if (h->armed == 2 && bit >= 0)
        h->py_export(uc);             /* the first hot access of the run: copy the PIT in */
    if (h->armed != 1 || size != 1 || bit < 0 || !(h->in_mask & (1 << bit))) {
        h->hint = place_hint(h);
        uint32_t v = py_in(h, uc, port, size, ud);
        h->hint = -1;
        return v;
    }
    int64_t n = done_here(h);
    if (n < 0)
        return py_in(h, uc, port, size, ud);
    int64_t now = (h->clock_base + n) * h->ns_per_insn;
    h->handled++;
    if (port == 0x61) {
        int out2;
        state(&h->ch[2], now, &out2);
        return (uint32_t)(((h->port61 & 0x0F) | (((now / h->refresh_ns) & 1) << 4)
                           | (out2 << 5)) & 0xFF);
    }
    if (port == 0x43)
        return 0xFF;
    h->dirty = 1;
    return channel_read(&h->ch[port - 0x40], now);
}

void bootdbg_hotports_out(void *uc, uint32_t port, int size, uint32_t value, void *ud) {
    struct bootdbg_hotports *h = (struct bootdbg_hotports *)ud;
    /* Only the commands that change no count, mode or OUT: counter latch and read-back. */
    h->learn_tb = NULL;
    if (uart_access(h, uc, port, size, 1, value, NULL))
        return;
    if (h->armed == 2 && port == 0x43)
        h->py_export(uc);             /* the first hot access of the run: copy the PIT in */
    int simple = size == 1 && port == 0x43 && (h->out_mask & 8)
                 && ((value >> 6) == 3 || ((value >> 4) & 3) == 0);
    if (h->armed != 1 || !simple) {
        h->hint = place_hint(h);
        const uint8_t *tb = h->learn_tb;
        uint64_t pc = h->learn_pc;
        uint32_t flush = *h->flush_count;
        h->learn_idx = -1;
        h->py_out(uc, port, size, value, ud);
        h->hint = -1;
        learn(h, tb, pc, flush);
        return;
    }
    int64_t n = done_here(h);
    if (n < 0) {
        const uint8_t *tb = h->learn_tb;
        uint64_t pc = h->learn_pc;
        uint32_t flush = *h->flush_count;
        h->learn_idx = -1;
        h->py_out(uc, port, size, value, ud);
        learn(h, tb, pc, flush);
        return;
    }
    int64_t now = (h->clock_base + n) * h->ns_per_insn;
    h->handled++;
    h->dirty = 1;
    if ((value >> 6) == 3) {
        for (int i = 0; i < 3; i++) {
            if (!(value & (2u << i)))
                continue;
            struct hot_channel *c = &h->ch[i];
            if (!(value & 0x20))
                latch_count(c, now);
            if (!(value & 0x10) && c->status < 0)
                c->status = status_byte(c, now);
        }
        return;
    }
    latch_count(&h->ch[value >> 6], now);
}

/* RDTSC: EDX:EAX = the TSC at this instruction, written as uc_reg_write writes EAX and EDX
 * (the upper halves of RAX and RDX kept).  What the Python hook would refuse or cannot place
 * without decoding -- an I/O watcher, an unknown place in a fast slice -- goes to it. */
uint32_t bootdbg_hotports_rdtsc(void *uc, void *ud) {
    struct bootdbg_hotports *h = (struct bootdbg_hotports *)ud;
    h->learn_tb = NULL;
    if (h->armed == 2)
        h->py_export(uc);             /* the first hot access of the run: the clock base */
    int64_t hint = place_hint(h);     /* (-1 outside fast slices; learn_tb: decode once) */
    int32_t en = *h->bc_enabled;
    int64_t n = -1;
    if (h->tsc_ok)
        n = en == 1 ? hint
            : (en == 0 || en == 2) ? (int64_t)*(const uint64_t *)(h->uch + h->off_counter) : -1;
    if (n < 0) {
        const uint8_t *tb = h->learn_tb;
        uint64_t pc = h->learn_pc;
        uint32_t flush = *h->flush_count;
        h->learn_idx = -1;
        h->hint = hint;
        uint32_t r = h->py_rdtsc(uc, ud);
        h->hint = -1;
        learn(h, tb, pc, flush);
        return r;
    }
    if (en == 1)
        h->placed++;
    uint64_t v = ((uint64_t)h->clock_base + (uint64_t)n) * (uint64_t)h->ns_per_insn
                 * (uint64_t)h->tsc_mult;
    uint64_t *regs = (uint64_t *)(uintptr_t)(h->env + h->off_regs);
    regs[0] = v & 0xFFFFFFFFull;           /* (bits 63:32 of RAX and RDX cleared, as QEMU 7.2) */
    regs[2] = v >> 32;
    h->tsc_handled++;
    return 1;
}

int bootdbg_hotports_size(void) { return (int)sizeof(struct bootdbg_hotports); }

static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_hotports",
                                 "bootdbg native hot-port I/O (used through ctypes)", -1, NULL};
PyMODINIT_FUNC PyInit__hotports(void) { return PyModule_Create(&mod); }
