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
#include <string.h>
#include <Python.h>
#include "_blockcount.h"

/* Guest memory at a linear address, for a look at code or a descriptor: from the RAM buffer
 * while paging is off (physical = linear & the A20 mask), else through Unicorn. */
static int guest_read(struct bootdbg_blockcount *b, void *uc, uint64_t linear, int prot,
                      uint8_t *out, uint32_t n) {
    if (b->ram != NULL && !(*(const uint64_t *)(b->env + b->cr0_off) & 0x80000000u)) {
        uint64_t phys = linear & (uint64_t)(int64_t)*(const int32_t *)(b->env + b->a20_off);
        if (phys + n <= b->ram_size && phys + n >= phys) {
            memcpy(out, b->ram + phys, n);
            return 0;
        }
    }
    return b->vmem_read(uc, linear, prot, out, n);
}

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
#define EXACT_TASK 8           /* a task switch: IRET with NT=1, far JMP/CALL to a TSS or task
                                  gate (Unicorn's QEMU 5 switch is wrong with 16-bit TSSs) */
#define HF_PE (1u << 7)
#define HF_LMA (1u << 14)
#define HF_VM (1u << 17)
#define EF_NT 0x4000u

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

/* Where a far JMP/CALL through memory (FF /3, FF /5, mod != 3) of `len` bytes from the FF
 * could end the block: its ModRM byte, for 16- or 32-bit addressing (either prefix). */
static int modrm_len_fits(uint8_t modrm, const uint8_t *after, uint32_t avail, uint32_t len) {
    uint32_t mod = modrm >> 6, rm = modrm & 7;
    uint32_t l16 = 1 + (mod == 1 ? 1 : mod == 2 ? 2 : rm == 6 ? 2 : 0);
    uint32_t l32 = 1;
    if (rm == 4) {
        l32++;
        if (mod == 0 && avail > 0 && (after[0] & 7) == 5)
            l32 += 4;
    }
    l32 += mod == 1 ? 1 : mod == 2 ? 4 : (rm == 5 ? 4 : 0);
    return len == l16 || len == l32;
}

/* Task-switch candidates by the block's last instruction (they all end a translation block):
 * 1: IRET (CF), 2: JMP/CALL ptr16:16/32 (EA/9A; selector in the last two bytes), 4: JMP/CALL
 * FAR [mem] (FF /3, FF /5).  Conservative: bytes that only look like one cost a check. */
static int task_tail(const uint8_t *p, uint32_t n) {
    int kinds = 0;
    if (n >= 1 && p[n - 1] == 0xcf)
        kinds |= 1;
    if ((n >= 7 && (p[n - 7] == 0xea || p[n - 7] == 0x9a))
            || (n >= 5 && (p[n - 5] == 0xea || p[n - 5] == 0x9a)))
        kinds |= 2;
    for (uint32_t k = 2; k <= 8 && k <= n; k++) {
        uint8_t modrm = p[n - k + 1];
        uint32_t reg = (modrm >> 3) & 7;
        if (p[n - k] == 0xff && (modrm >> 6) != 3 && (reg == 3 || reg == 5)
                && modrm_len_fits(modrm, p + n - k + 2, k - 2, k - 1)) {
            kinds |= 4;
            break;
        }
    }
    return kinds;
}

int bootdbg_last_insn(const uint8_t *p, uint32_t n, int code32);

/* `task_tail` made exact where the block decodes (`_storescan.c`): the kinds of its last
 * instruction alone, so that bytes inside other instructions that look like one (an EA ModRM
 * byte seven bytes from the end, say) do not stop the block at every entry. */
static int task_tail_exact(const uint8_t *p, uint32_t n, int code32) {
    int kinds = task_tail(p, n);
    if (!kinds)
        return 0;
    int last = bootdbg_last_insn(p, n, code32);
    if (last < 0)
        return kinds;
    uint32_t j = (uint32_t)last;
    while (j < n && (p[j] == 0x26 || p[j] == 0x2e || p[j] == 0x36 || p[j] == 0x3e
                     || p[j] == 0x64 || p[j] == 0x65 || p[j] == 0x66 || p[j] == 0x67
                     || p[j] == 0xf0 || p[j] == 0xf2 || p[j] == 0xf3))
        j++;
    if (j >= n)
        return kinds;
    if (p[j] == 0xcf)
        return kinds & 1;
    if (p[j] == 0xea || p[j] == 0x9a)
        return kinds & 2;
    if (p[j] == 0xff && j + 1 < n && (p[j + 1] >> 6) != 3
            && (((p[j + 1] >> 3) & 7) == 3 || ((p[j + 1] >> 3) & 7) == 5))
        return kinds & 4;
    return 0;
}

static const uint8_t *current_tb(struct bootdbg_blockcount *b, void *uc, uint64_t address,
                                 uint32_t size);

/* `_storescan.c`: may an instruction before the block's last one store to memory (the
 * descriptor a far JMP/CALL ptr16:xx at its end names, a task gate), do port I/O or load a
 * descriptor table (judged once); and then, on entry, may one change that descriptor?  Such a
 * block is stopped before, as one ending in FAR [mem] is. */
int bootdbg_stores_before(const uint8_t *p, uint32_t n, int code32);
int bootdbg_stores_abs(const uint8_t *p, uint32_t n, int code32, uint8_t *seg, uint32_t *off);
int bootdbg_stores_reach(int k, const uint8_t *seg, const uint32_t *off, const uint64_t *bases,
                         uint64_t linear);
#define TAIL_STORES 0x80u      /* in tail_n: the block may store before its last instruction */
#define TAIL_KNOWN 0x40u       /* ... only to [disp], as tail_seg/tail_off (tail_k of them) */
#define TAIL_N 0x3fu

/* Keep the last bytes of the block `p` (ending in a far JMP/CALL) for `tb`, and whether (and
 * where) an earlier instruction may store.  `k`: the stores to [disp], as
 * bootdbg_stores_abs (-1: others); returns whether it may store. */
static int keep_tail(struct bootdbg_blockcount *b, const uint8_t *tb, const uint8_t *p,
                     uint32_t size, int code32, int *k, uint8_t *seg, uint32_t *off) {
    int stores = (task_tail(p, size) & 2) && bootdbg_stores_before(p, size, code32);
    *k = stores ? bootdbg_stores_abs(p, size, code32, seg, off) : 0;
    if (tb != NULL) {
        unsigned slot = (unsigned)(((uintptr_t)tb >> 6) & 63);
        uint32_t n = size < 16 ? size : 16;
        b->tail_tb[slot] = tb;
        memcpy(b->tail[slot], p + size - n, n);
        b->tail_n[slot] = (uint8_t)(n | (stores ? TAIL_STORES : 0) | (*k >= 0 ? TAIL_KNOWN : 0));
        if (*k > 0) {
            memcpy(b->tail_seg[slot], seg, (size_t)*k);
            memcpy(b->tail_off[slot], off, sizeof(uint32_t) * (size_t)*k);
        }
        b->tail_k[slot] = (uint8_t)(*k > 0 ? *k : 0);
    }
    return stores;
}

/* Would Unicorn run this block differently from the CPU?  What depends on the block alone (its
 * address, size, CS base, code size, mode, and bytes: EXACT_IPWRAP, EXACT_SCAN, and whether its
 * last instruction may switch tasks) is judged once per TranslationBlock and kept in spare bits
 * of the block's cflags (QEMU sets cflags when it creates a block and ignores these bits in its
 * look-ups): on an ordinary block it costs a test of a word the counter reads anyway.  A
 * possible task switch is checked each time the block is entered (`task_switch`).  The verdict
 * is a number in those bits, not one bit each (an IRET-only tail needs only a test of NT, tested
 * inline; a far JMP/CALL one a look at its selector's descriptor). */
#define CF_VERDICT_SHIFT 20           /* 4 spare bits, 0x00100000..0x00800000: the verdict */
#define CF_VERDICT (0xfu << CF_VERDICT_SHIFT)
#define V_ORDINARY 1u                 /* 0: not judged; else 1 + IPWRAP + 2*SCAN + 4*task */
#define V_IPWRAP 1u
#define V_SCAN 2u
#define V_TASK_IRET 4u                /* task 1: the last instruction may be an IRET only */
#define V_TASK_ANY 8u                 /* task 2: it may be a far JMP/CALL (or an IRET) */
#define V_FLAGS 13u                   /* EXACT_FLAGS (rare): judged again on each entry */
static int flags_special(const struct bootdbg_blockcount *b);
static uint32_t judge(struct bootdbg_blockcount *b, void *uc, uint64_t address, uint32_t size,
                      const uint8_t *tb) {
    uint32_t hf = *(const uint32_t *)(b->env + b->hflags_off);
    uint32_t why = 0;
    int pm = (hf & (HF_PE | HF_VM | HF_LMA)) == HF_PE;
    if (!(hf & (HF_CS32 | HF_CS64))) {
        uint64_t eip = (address - *(const uint64_t *)(b->env + b->csbase_off)) & 0xffffffffu;
        if (eip <= 0xffff && eip + size >= 0x10000)
            why |= V_IPWRAP;
    }
    uint8_t buf[8192];
    if (size <= sizeof buf && b->vmem_read(uc, address, 4 /* UC_PROT_EXEC */, buf, size) == 0) {
        if (scan_code(buf, size, (hf & HF_CS64) != 0))
            why |= V_SCAN;
        int kinds = pm ? task_tail_exact(buf, size, (hf & HF_CS32) != 0) : 0;
        if (kinds & 6) {
            why |= V_TASK_ANY;
            int k;
            uint8_t seg[4];
            uint32_t off[4];
            keep_tail(b, tb, buf, size, (hf & HF_CS32) != 0, &k, seg, off);
        } else if (kinds & 1) {
            why |= V_TASK_IRET;
        }
    } else if (pm) {
        why |= V_TASK_ANY;      /* (unreadable: the machine looks) */
    }
    return V_ORDINARY + why;
}

/* The verdict kept for a block: EXACT_FLAGS depends on RF, VM and IOPL, which are part of a
 * block's look-up key, so it is a function of the block too; those blocks are rare and judged
 * again on each entry (the number has no room for it beside the rest). */
static uint32_t verdict(struct bootdbg_blockcount *b, void *uc, uint64_t address, uint32_t size,
                        const uint8_t *tb) {
    return flags_special(b) ? V_FLAGS : judge(b, uc, address, size, tb);
}

static int flags_special(const struct bootdbg_blockcount *b) {
    uint32_t ef = *(const uint32_t *)(b->env + b->eflags_off);
    return (ef & EF_RF) || ((ef & EF_VM) && (ef & EF_IOPL) == EF_IOPL);
}

/* May the stores found before a far JMP/CALL (`k` of them at `seg`:`off`; -1: others)
 * change the descriptor at `linear`, with the segment bases at entry?  1: stop before it. */
static int stores_reach(struct bootdbg_blockcount *b, int k, const uint8_t *seg,
                        const uint32_t *off, uint64_t linear) {
    uint64_t bases[6];
    for (int j = 0; j < 6; j++)     /* (ES CS SS DS FS GS, 24 bytes apart, base at +8) */
        bases[j] = *(const uint64_t *)(b->env + b->csbase_off + 24 * (j - 1));
    return bootdbg_stores_reach(k, seg, off, bases, linear & 0xffffffffu);
}

/* Does the block, whose last instruction may switch tasks, switch tasks now?  IRET with NT=1;
 * JMP/CALL ptr16:xx whose selector names a TSS or task gate, or after instructions that may
 * change that descriptor (read here as the block is entered); JMP/CALL FAR [mem] always (the
 * machine reads the pointer).  `any`: 0 when the last instruction can only be an IRET (NT
 * changes only by POPF, IRET or a task switch: each ends its block).  1: stop before it. */
static int task_switch(struct bootdbg_blockcount *b, void *uc, uint64_t address, uint32_t size,
                       int any, const uint8_t *tb) {
    if (!any)
        return (*(const uint32_t *)(b->env + b->eflags_off) & EF_NT) != 0;
    uint8_t buf[16];
    const uint8_t *p = buf;
    uint32_t n = size < sizeof buf ? size : (uint32_t)sizeof buf;
    unsigned slot = (unsigned)(((uintptr_t)tb >> 6) & 63);
    int stores, k;
    uint8_t segs[4];
    uint32_t offs[4];
    const uint8_t *seg = segs;
    const uint32_t *off = offs;
    if (tb != NULL && b->tail_tb[slot] == tb && (b->tail_n[slot] & TAIL_N) == n) {
        p = b->tail[slot];
        stores = (b->tail_n[slot] & TAIL_STORES) != 0;
        k = (b->tail_n[slot] & TAIL_KNOWN) ? b->tail_k[slot] : -1;
        seg = b->tail_seg[slot];
        off = b->tail_off[slot];
    } else {
        /* (not kept, or lost to another block in its slot: the whole block again) */
        uint8_t block[8192];
        uint32_t hf = *(const uint32_t *)(b->env + b->hflags_off);
        if (size > sizeof block || guest_read(b, uc, address, 4, block, size) != 0)
            return 1;
        stores = keep_tail(b, tb, block, size, (hf & HF_CS32) != 0, &k, segs, offs);
        memcpy(buf, block + size - n, n);
    }
    int kinds = task_tail(p, n);
    if ((kinds & 1) && (*(const uint32_t *)(b->env + b->eflags_off) & EF_NT))
        return 1;
    if (kinds & 4)
        return 1;
    if (kinds & 2) {
        uint32_t sel = p[n - 2] | ((uint32_t)p[n - 1] << 8);
        if ((sel & 0xfffc) == 0)
            return 0;
        const uint8_t *dt = b->env + ((sel & 4) ? b->ldt_off : b->gdt_off);
        uint64_t base = *(const uint64_t *)(dt + 8);
        uint32_t limit = *(const uint32_t *)(dt + 16);
        if (stores && stores_reach(b, k, seg, off, base + (sel & ~7u)))
            return 1;
        if ((sel & ~7u) + 7 > limit)
            return 0;
        uint8_t d[8];
        if (guest_read(b, uc, base + (sel & ~7u), 1 /* UC_PROT_READ */, d, 8) != 0)
            return 1;
        uint32_t type = d[5] & 0x1f;   /* S and type */
        return type == 1 || type == 9 || type == 5;
    }
    return 0;
}

static int exact_special(struct bootdbg_blockcount *b, void *uc, uint64_t address, uint32_t size,
                         const uint8_t *tb) {
    if (tb == NULL)
        tb = current_tb(b, uc, address, size);
    uint32_t v;
    if (tb == NULL) {
        v = verdict(b, uc, address, size, NULL);
    } else {
        uint32_t *cflags = (uint32_t *)(tb + TB_CFLAGS);
        v = (*cflags & CF_VERDICT) >> CF_VERDICT_SHIFT;
        if (v == 0) {
            v = verdict(b, uc, address, size, tb);
            *cflags |= v << CF_VERDICT_SHIFT;
        }
    }
    int why = 0;
    if (v == V_FLAGS) {
        why = EXACT_FLAGS;
        v = judge(b, uc, address, size, tb);     /* (keeps its tail fresh too) */
    }
    v -= V_ORDINARY;
    why |= ((v & V_IPWRAP) ? EXACT_IPWRAP : 0) | ((v & V_SCAN) ? EXACT_SCAN : 0);
    if ((v & (V_TASK_IRET | V_TASK_ANY)) && (b->checks & EXACT_TASK)
            && task_switch(b, uc, address, size, (v & V_TASK_ANY) != 0, tb))
        why |= EXACT_TASK;
    return why & b->checks;
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
    /* (a block whose last instruction may be an IRET, run with NT=0, is as ordinary) */
    uint32_t v = cf & CF_VERDICT;
    if (b->checks && v != (V_ORDINARY << CF_VERDICT_SHIFT)
            && (v != ((V_ORDINARY + V_TASK_IRET) << CF_VERDICT_SHIFT)
                || (*(const uint32_t *)(b->env + b->eflags_off) & EF_NT))
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
