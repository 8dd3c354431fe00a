/*
 * bootdbg native block counter: exact instruction counts without Unicorn's per-instruction
 * count hook.  A Unicorn block hook adds the instruction count of the translation block about to
 * run (QEMU's TranslationBlock.icount, found through the CPU's tb_jmp_cache, which holds every
 * block the CPU looked up) and stops the engine *before* a block that would pass the limit.
 * Anything it cannot vouch for -- a block not in the cache or translated for other CPU flags, a
 * block QEMU shortened on its own (precise self-modifying code) -- sets `irregular` and stops: the
 * machine then re-runs the slice with Unicorn's exact count hook.  Used through ctypes; links
 * against nothing (uc_emu_stop is passed in as a pointer).
 */
#include <stdint.h>
#include <Python.h>
#include "_blockcount.h"

/* TranslationBlock (unicorn 2.1.4, x86_64 target): pc, cs_base, flags, size, icount, cflags */
#define TB_PC 0
#define TB_CSBASE 8
#define TB_FLAGS 16
#define TB_SIZE 20
#define TB_ICOUNT 22
#define TB_CFLAGS 24
#define CF_COUNT_MASK 0x7fff
#define TB_FLAG_EFLAGS (0x3000 | 0x100 | 0x10000 | 0x20000 | 0x40000) /* IOPL TF RF VM AC */

#define HF_CS32 (1u << 4)
#define HF_CS64 (1u << 15)
#define EF_RF 0x10000u
#define EF_VM 0x20000u
#define EF_IOPL 0x3000u
#define EXACT_IPWRAP 1         /* 16-bit code that runs past offset FFFFh (IP wraps to 0000) */
#define EXACT_FLAGS 2          /* RF set, or vm86 at IOPL 3: PUSHF(D) would store RF/VM */
#define EXACT_SCAN 4           /* LOCK NEG m (wrong SF/PF), SMSW r32 (16 bits written) */

static int is_prefix(uint8_t c, int code64) {
    return c == 0x26 || c == 0x2e || c == 0x36 || c == 0x3e || c == 0x64 || c == 0x65
           || c == 0x66 || c == 0x67 || c == 0xf0 || c == 0xf2 || c == 0xf3
           || (code64 && c >= 0x40 && c < 0x50);
}

/* Conservative: any byte sequence that may be one of the EXACT_SCAN instructions (an
 * immediate or displacement that looks like one only costs an exact run of the block). */
static int scan_code(const uint8_t *p, uint32_t n, int code64) {
    for (uint32_t i = 0; i < n; i++) {
        if (p[i] == 0xf0) {
            uint32_t j = i + 1;
            while (j < n && is_prefix(p[j], code64))
                j++;
            if (j + 1 < n && (p[j] == 0xf6 || p[j] == 0xf7) && ((p[j + 1] >> 3) & 7) == 3
                    && (p[j + 1] >> 6) != 3)
                return 1;
        } else if (p[i] == 0x0f && !code64 && i + 2 < n && p[i + 1] == 0x01
                   && (p[i + 2] & 0xf8) == 0xe0) {
            return 1;
        }
    }
    return 0;
}

static const uint8_t *current_tb(struct bootdbg_blockcount *b, void *uc, uint64_t address,
                                 uint32_t size);

/* Would Unicorn run this block differently from the CPU?  A function of the block alone (its
 * address, size, CS base, flags -- RF, VM, IOPL, code size -- and bytes), so it is judged once
 * per TranslationBlock and kept in spare bits of the block's cflags (QEMU sets cflags when it
 * creates a block and ignores these bits in its look-ups): on an ordinary block it costs a test
 * of a word the counter reads anyway. */
#define CF_JUDGED 0x00100000u
#define CF_WHY_SHIFT 21              /* EXACT_* bits at 0x00200000..0x00800000 */
static int judge(struct bootdbg_blockcount *b, void *uc, uint64_t address, uint32_t size) {
    uint32_t hf = *(const uint32_t *)(b->env + b->hflags_off);
    uint32_t ef = *(const uint32_t *)(b->env + b->eflags_off);
    int why = 0;
    if (!(hf & (HF_CS32 | HF_CS64))) {
        uint64_t eip = (address - *(const uint64_t *)(b->env + b->csbase_off)) & 0xffffffffu;
        if (eip <= 0xffff && eip + size >= 0x10000)
            why |= EXACT_IPWRAP;
    }
    if ((ef & EF_RF) || ((ef & EF_VM) && (ef & EF_IOPL) == EF_IOPL))
        why |= EXACT_FLAGS;
    uint8_t buf[8192];
    if (size <= sizeof buf && b->vmem_read(uc, address, 4 /* UC_PROT_EXEC */, buf, size) == 0
            && scan_code(buf, size, (hf & HF_CS64) != 0))
        why |= EXACT_SCAN;
    return why;
}

static int exact_special(struct bootdbg_blockcount *b, void *uc, uint64_t address, uint32_t size,
                         const uint8_t *tb) {
    if (tb == NULL)
        tb = current_tb(b, uc, address, size);
    if (tb == NULL)
        return judge(b, uc, address, size) & b->checks;
    uint32_t *cflags = (uint32_t *)(tb + TB_CFLAGS);
    uint32_t c = *cflags;
    if (!(c & CF_JUDGED)) {
        c |= CF_JUDGED | ((uint32_t)judge(b, uc, address, size) << CF_WHY_SHIFT);
        *cflags = c;
    }
    return (int)((c >> CF_WHY_SHIFT) & 7) & b->checks;
}

/* Stop before a special block (1: stopped) unless the machine let it through. */
static int exact_stop(struct bootdbg_blockcount *b, void *uc, uint64_t address, uint32_t size,
                      const uint8_t *tb) {
    if (address == b->allow_pc) {
        b->allow_pc = ~(uint64_t)0;
        return 0;
    }
    int why = exact_special(b, uc, address, size, tb);
    if (!why)
        return 0;
    b->special = why;
    b->special_pc = address;
    b->special_size = size;
    b->emu_stop(uc);
    return 1;
}

static unsigned jmp_hash(uint64_t pc) {
    uint64_t tmp = pc ^ (pc >> 6);
    return (unsigned)(((tmp >> 6) & (4096 - 64)) | (tmp & 63));
}

static int tb_matches(const struct bootdbg_blockcount *b, const uint8_t *tb, uint64_t address,
                      uint32_t size) {
    uint32_t flags = *(const uint32_t *)(b->env + b->hflags_off)
                     | (*(const uint32_t *)(b->env + b->eflags_off) & TB_FLAG_EFLAGS);
    return tb != NULL && *(const uint64_t *)(tb + TB_PC) == address
           && *(const uint16_t *)(tb + TB_SIZE) == size
           && *(const uint32_t *)(tb + TB_FLAGS) == flags
           && *(const uint64_t *)(tb + TB_CSBASE) == *(const uint64_t *)(b->env + b->csbase_off);
}

/* The TranslationBlock about to run (NULL: not found): from the jump cache, refilled by
 * Unicorn's own lookup when a TLB flush emptied it. */
static const uint8_t *current_tb(struct bootdbg_blockcount *b, void *uc, uint64_t address,
                                 uint32_t size) {
    const uint8_t *const *slot =
        &((const uint8_t *const *)(b->cpu + b->jmp_off))[jmp_hash(address)];
    if (tb_matches(b, *slot, address, size))
        return *slot;
    struct uc_tb_out out = {0, 0, 0};
    if (b->uc_ctl(uc, b->request_cache, address, &out) != 0)
        return NULL;
    return tb_matches(b, *slot, address, size) ? *slot : NULL;
}

void bootdbg_blockcount_cb(void *uc, uint64_t address, uint32_t size, void *user_data) {
    struct bootdbg_blockcount *b = (struct bootdbg_blockcount *)user_data;
    if (!b->enabled)
        return;
    const uint8_t *tb = ((const uint8_t *const *)(b->cpu + b->jmp_off))[jmp_hash(address)];
    if (b->enabled == 2) {
        if (b->stop_next) {     /* (counting by blocks, the machine lowers `limit` to 0) */
            b->interrupted = 1;
            b->emu_stop(uc);
            return;
        }
        /* Under a count hook Unicorn syncs EIP before every instruction, so the memory and I/O
         * hooks need not re-derive the CPU state from the instruction's start -- which also
         * resets cc_op to its value before the flags Unicorn computes after each code hook,
         * and can leave it wrong in memory (a write watchpoint on `sub ecx, ebp; rep movsb`
         * changed the guest's flags).  Set for the block; an exit clears it (and exits without
         * re-deriving, right for the same reason). */
        *b->skip_sync = 1;
        /* Watch mode, under an instruction count hook: a store into the running block made
         * QEMU re-run the storing instruction alone.  The count hook counted it on the first
         * attempt and will again: give it one more unit so it is not stopped half-done, and
         * report the restart so the machine can take it off the count. */
        if (tb != NULL && *(const uint64_t *)(tb + TB_PC) == address
                && *(const uint16_t *)(tb + TB_SIZE) == size
                && (*(const uint32_t *)(tb + TB_CFLAGS) & CF_COUNT_MASK)) {
            (*b->count_limit)++;
            b->restarts++;
            b->prev_pc = ~(uint64_t)0;
            return;     /* (the storing instruction again: it was let through before) */
        }
        if (!exact_stop(b, uc, address, size, NULL) && b->rep_on && address == b->prev_pc
                && b->count_limit == b->uc_emu_count && *b->uc_emu_counter < *b->uc_emu_count) {
            /* a re-entry of a lone REP block under the count hook (which counts each iteration
             * as it starts it, and stops at the one after its limit); every other block hook
             * saw its first entry */
            *b->uc_emu_counter += bootdbg_rep_iterations(
                b, uc, address, size, *b->uc_emu_count - *b->uc_emu_counter - 1);
        }
        b->prev_pc = address;
        return;
    }
    uint32_t flags = *(const uint32_t *)(b->env + b->hflags_off)
                     | (*(const uint32_t *)(b->env + b->eflags_off) & TB_FLAG_EFLAGS);
    uint64_t n;
    uint32_t cf = 0;
    if (tb == NULL || *(const uint64_t *)(tb + TB_PC) != address
            || *(const uint16_t *)(tb + TB_SIZE) != size
            || *(const uint32_t *)(tb + TB_FLAGS) != flags
            || *(const uint64_t *)(tb + TB_CSBASE) != *(const uint64_t *)(b->env + b->csbase_off)) {
        /* Not in the jump cache (a TLB flush empties it; chained blocks do not refill it):
         * Unicorn's own lookup, with the CPU's current flags, finds the block and caches it. */
        struct uc_tb_out out = {0, 0, 0};
        b->lookups++;
        if (b->uc_ctl(uc, b->request_cache, address, &out) != 0 || out.pc != address
                || out.size != size) {
            b->irregular = 1;
            b->emu_stop(uc);
            return;
        }
        n = out.icount;
        tb = ((const uint8_t *const *)(b->cpu + b->jmp_off))[jmp_hash(address)];   /* (refilled) */
        if (!tb_matches(b, tb, address, size))
            tb = NULL;
        cf = tb != NULL ? *(const uint32_t *)(tb + TB_CFLAGS) : 0;
    } else {
        cf = *(const uint32_t *)(tb + TB_CFLAGS);
        if (cf & CF_COUNT_MASK) {
            /* a block QEMU limited on its own (after a store into the running block) */
            b->irregular = 2;
            b->emu_stop(uc);
            return;
        }
        n = *(const uint16_t *)(tb + TB_ICOUNT);
    }
    /* (a block judged ordinary costs this test) */
    if (b->checks && !((cf & CF_JUDGED) && !(((cf >> CF_WHY_SHIFT) & 7) & (uint32_t)b->checks))
            && exact_stop(b, uc, address, size, tb)) {
        b->irregular = 4;      /* (stopped before the block: nothing of it counted) */
        return;
    }
    if (b->counter + n > b->limit) {
        b->partial = 1;
        b->emu_stop(uc);
        return;
    }
    if (n == 1 && b->rep_on)     /* a lone REP MOVS/STOS: iterations done here (_repstring.c) */
        b->counter += bootdbg_rep_iterations(b, uc, address, size, b->limit - b->counter - 1);
    b->counter += n;
    b->last = n;
    b->last_pc = address;
    b->last_size = size;
    b->last_hflags = *(const uint32_t *)(b->env + b->hflags_off);
    b->blocks++;
}

int bootdbg_blockcount_size(void) { return (int)sizeof(struct bootdbg_blockcount); }

static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_blockcount",
                                 "bootdbg block instruction counter (used through ctypes)", -1,
                                 NULL};
PyMODINIT_FUNC PyInit__blockcount(void) { return PyModule_Create(&mod); }
