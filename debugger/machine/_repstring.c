/*
 * bootdbg: REP MOVS / REP STOS iterations done in place by the native block counter.
 *
 * Unicorn (QEMU) runs a REP string instruction as one translation block per iteration, each of
 * which pays the block hook, a TLB refill (the source and the destination of a large copy evict
 * each other) and a store helper: memtest86+'s memory-speed measurement ran at 6 MIPS.  When the
 * block about to run is a lone REP MOVS/STOS (8/16/32/64-bit elements; 16-, 32- or, in 64-bit code,
 * 64-bit addresses) and nothing needs to see its iterations, the counter does as many of them here as the slice allows
 * (its instruction limit: each iteration is one instruction, as the count hook counts them),
 * always leaving at least the last one to the block itself.  The registers, the memory and the
 * count are then exactly what running those iterations one block at a time gives.
 *
 * It declines -- the block runs as it always does -- when:
 *  - a code, memory or other block hook is installed (watchpoints, tracing, recording, physical
 *    breakpoints, plugins), or the IF watcher (_irqwait.c) waits with IF=1: it stops before this
 *    block, so no iteration may run first;
 *  - TF, RF, VM, an interrupt shadow, CPL 3, SMAP, or a DR7 breakpoint enabled;
 *  - the instruction or an element crosses a page, or the end of its 16/32-bit offset range, or
 *    (long mode) a page is outside the lower canonical half; 32-bit addresses in 64-bit code;
 *  - a page is not plain RAM below ram_size outside A0000h-FFFFFh (VGA, option and BIOS ROM,
 *    open bus), or is the page of the instruction itself (a destination there: QEMU's own
 *    precise self-modifying-code handling does it);
 *  - paging is on and QEMU's walk of the page would fault or set an accessed/dirty bit, or
 *    QEMU's TLB maps the page elsewhere (a stale entry: the guest sees what QEMU has cached).
 * Translated code the copy writes over is invalidated, as QEMU does for a guest store.
 *
 * The page journal (_pagejournal.c) write-protects RAM after a checkpoint and saves each page
 * at its first store, a fault each; a copy over megabytes paid a signal and an mprotect per
 * page.  The pages a copy is about to write are opened first instead (`open_ahead`): with paging
 * off, where the destination's physical pages follow its linear ones, as much of the rest of
 * the copy as fits before the end of RAM or the low hole, in one call.  A page opened and then
 * not written (the copy stopped early, A20 wrapped it) costs a saved copy, nothing else; a page
 * written and not opened still faults.
 */
#include <string.h>
#include "_blockcount.h"

#define EF_TF 0x100u
#define EF_IF 0x200u
#define EF_RF 0x10000u
#define EF_VM 0x20000u
#define HF_INHIBIT (1u << 3)
#define HF_CS32 (1u << 4)
#define HF_ADDSEG (1u << 6)
#define HF_LMA (1u << 14)
#define HF_CS64 (1u << 15)
#define HF_SMAP (1u << 23)
#define CR0_PG 0x80000000ull
#define CR0_WP 0x10000ull
#define CR4_PSE 0x10ull
#define CR4_PAE 0x20ull
#define EFER_NXE 0x800ull
#define MMU_KNOSMAP_IDX 2     /* QEMU's x86 MMU index of CPL 0-2 without SMAP */
#define ACCESS_LOAD 0
#define ACCESS_FETCH 2

/* Unicorn's hook kinds (uc_priv.h, uc_hook_idx) */
#define IDX_CODE 2
#define IDX_BLOCK 3
#define IDX_MEM_READ 10
#define IDX_MEM_WRITE 11
#define IDX_MEM_FETCH 12
#define IDX_MEM_READ_AFTER 13

#define PG_P 1ull
#define PG_RW 2ull
#define PG_PS 0x80ull
#define LOW_HALF (1ull << 47)          /* long mode: canonical lower half */
#define PG_A 0x20ull
#define PG_D 0x40ull
#define PG_ADDR 0x000ffffffffff000ull
#define PG_HI 0x7ff0000000000000ull   /* bits 52-62 */
#define PG_NX (1ull << 63)

#define PAGE 0x1000u
#define LOW_HOLE 0xA0000u              /* VGA, option ROMs, BIOS: not plain RAM for us */
#define LOW_HOLE_END 0x100000u
#define PREPARE_MAX (4ull << 20)       /* RAM opened for a copy in one call at most */

struct rep_ctx {
    struct bootdbg_blockcount *b;
    const uint8_t *env;
    uint64_t cr0, cr3, cr4, efer, a20;
    int lma;
};

static uint64_t env64(const uint8_t *env, int off) { return *(const uint64_t *)(env + off); }

static int entry(const struct rep_ctx *c, uint64_t phys, int wide, uint64_t *out) {
    phys &= c->a20;
    if (phys + 8 > c->b->ram_size)
        return 0;
    if (wide) {
        memcpy(out, c->b->ram + phys, 8);
    } else {
        uint32_t v;
        memcpy(&v, c->b->ram + phys, 4);
        *out = v;
    }
    return 1;
}

/* Is entry `e` one QEMU's walk passes without a fault and without changing it? */
static int quiet(const struct rep_ctx *c, uint64_t e, uint64_t need, int fetch) {
    if ((e & need) != need || (e & PG_HI))
        return 0;
    if ((e & PG_NX) && (fetch || !(c->efer & EFER_NXE)))
        return 0;
    return 1;
}

/* The physical page QEMU's walk of linear `lin` gives, if it neither faults nor sets an
 * accessed or dirty bit (every entry present and accessed; a store: writable (CR0.WP), the last dirty;
 * no reserved bit); 1 = found.  Stricter than the CPU: anything else declines. */
static int walk(const struct rep_ctx *c, uint64_t lin, int write, int fetch, uint64_t *page) {
    if (!(c->cr0 & CR0_PG)) {
        *page = (lin & c->a20) & ~(uint64_t)(PAGE - 1);
        return 1;
    }
    /* (a store at CPL 0-2 ignores RW when CR0.WP is clear) */
    uint64_t need = PG_P | PG_A | (write && (c->cr0 & CR0_WP) ? PG_RW : 0);
    uint64_t last = need | (write ? PG_D : 0);
    uint64_t pde, pte;
    if (c->lma) {
        uint64_t pml4e, pdpte;
        if (lin >= LOW_HALF
                || !entry(c, (c->cr3 & PG_ADDR) + ((lin >> 39) & 0x1ff) * 8, 1, &pml4e)
                || !quiet(c, pml4e, need, fetch) || (pml4e & PG_PS)
                || !entry(c, (pml4e & PG_ADDR) + ((lin >> 30) & 0x1ff) * 8, 1, &pdpte))
            return 0;
        if (pdpte & PG_PS) {                /* 1 GiB page */
            if (!quiet(c, pdpte, last, fetch) || (pdpte & 0x3fffe000ull))
                return 0;
            *page = ((pdpte & PG_ADDR & ~0x3fffffffull) | (lin & 0x3ffff000ull)) & c->a20;
            return 1;
        }
        if (!quiet(c, pdpte, need, fetch)
                || !entry(c, (pdpte & PG_ADDR) + ((lin >> 21) & 0x1ff) * 8, 1, &pde))
            return 0;
    } else if (c->cr4 & CR4_PAE) {
        uint64_t pdpte;
        if (!entry(c, (c->cr3 & ~0x1full) + ((lin >> 30) & 3) * 8, 1, &pdpte)
                || !quiet(c, pdpte | PG_A | PG_RW, PG_P, 1))
            return 0;
        if (!entry(c, (pdpte & PG_ADDR) + ((lin >> 21) & 0x1ff) * 8, 1, &pde))
            return 0;
    }
    if (c->lma || (c->cr4 & CR4_PAE)) {
        if (pde & PG_PS) {
            if (!quiet(c, pde, last, fetch) || (pde & 0x1fe000))
                return 0;
            *page = ((pde & PG_ADDR & ~0x1fffffull) | (lin & 0x1ff000)) & c->a20;
            return 1;
        }
        if (!quiet(c, pde, need, fetch)
                || !entry(c, (pde & PG_ADDR) + ((lin >> 12) & 0x1ff) * 8, 1, &pte)
                || !quiet(c, pte, last, fetch))
            return 0;
        *page = (pte & PG_ADDR) & c->a20;
        return 1;
    }
    if (!entry(c, (c->cr3 & ~0xfffull) + ((lin >> 22) & 0x3ff) * 4, 0, &pde))
        return 0;
    if ((pde & PG_PS) && (c->cr4 & CR4_PSE)) {
        if (!quiet(c, pde, last, fetch) || (pde & 0x3fe000))
            return 0;
        *page = ((pde & 0xffc00000ull) | (lin & 0x3ff000)) & c->a20;
        return 1;
    }
    if (!quiet(c, pde, need, fetch)
            || !entry(c, (pde & 0xfffff000ull) + ((lin >> 12) & 0x3ff) * 4, 0, &pte)
            || !quiet(c, pte, last, fetch))
        return 0;
    *page = (pte & 0xfffff000ull) & c->a20;
    return 1;
}

/* Host address of linear `lin` in plain RAM (NULL: declined), and its physical page. */
static uint8_t *host_of(const struct rep_ctx *c, uint64_t lin, int write, int fetch,
                        uint64_t *page) {
    if (!walk(c, lin, write, fetch, page))
        return NULL;
    if (*page + PAGE > c->b->ram_size || (*page >= LOW_HOLE && *page < LOW_HOLE_END))
        return NULL;
    uint8_t *host = c->b->ram + *page + (lin & (PAGE - 1));
    if (c->cr0 & CR0_PG) {
        /* QEMU's TLB must map the page where its tables do now (a load probe: the walk above
         * found nothing a fill would change, so it cannot fault or set a bit) */
        void *q = c->b->tlb_host((void *)c->env, lin, fetch ? ACCESS_FETCH : ACCESS_LOAD,
                                 MMU_KNOSMAP_IDX);
        if (q != (void *)host)
            return NULL;
    }
    return host;
}

struct insn {
    int ovr;        /* segment override (0 ES .. 5 GS), -1 none */
    int movs;       /* MOVS (else STOS) */
    int esize;      /* element size */
    int abits;      /* address size: 16, 32, 64 */
};

/* A lone REP MOVS/STOS filling exactly `size` bytes?  (code size 16, 32 or 64; a REX prefix
 * only as the last prefix; 32-bit addresses in 64-bit code are not taken) */
static int decode(const uint8_t *p, uint32_t size, int code, struct insn *out) {
    int opsz = 0, adsz = 0, rep = 0, ovr = -1, rexw = 0, rex = 0;
    for (uint32_t i = 0; i + 1 < size; i++) {
        uint8_t c = p[i];
        if (rex)
            return 0;
        switch (c) {
        case 0x66: opsz = 1; break;
        case 0x67: adsz = 1; break;
        case 0xf2: case 0xf3: rep = 1; break;
        case 0x26: ovr = 0; break;
        case 0x2e: ovr = 1; break;
        case 0x36: ovr = 2; break;
        case 0x3e: ovr = 3; break;
        case 0x64: ovr = 4; break;
        case 0x65: ovr = 5; break;
        default:
            if (code == 64 && (c & 0xf0) == 0x40) {
                rex = 1;
                rexw = (c >> 3) & 1;
                break;
            }
            return 0;
        }
    }
    uint8_t op = p[size - 1];
    if (!rep || !(op == 0xa4 || op == 0xa5 || op == 0xaa || op == 0xab))
        return 0;
    int osz, asz;
    if (code == 64) {
        if (adsz)
            return 0;
        asz = 64;
        osz = rexw ? 8 : opsz ? 2 : 4;
    } else {
        asz = (code == 32) != adsz ? 32 : 16;
        osz = (code == 32) != opsz ? 4 : 2;
    }
    out->ovr = ovr;
    out->movs = op == 0xa4 || op == 0xa5;
    out->esize = (op & 1) ? osz : 1;
    out->abits = asz;
    return 1;
}

/* Elements from offset `off` on (direction `df`) before one would pass the offset range. */
static uint64_t offset_fit(uint64_t off, uint64_t amask, int e, int df) {
    if (amask == ~0ull)         /* 64-bit: the canonical check bounds it */
        return ~0ull;
    if (off + (uint64_t)e - 1 > amask)
        return 0;
    return df > 0 ? (amask + 1 - off) / (uint64_t)e : off / (uint64_t)e + 1;
}

/* Elements from linear `lin` on before one would leave its page. */
static uint64_t page_fit(uint64_t lin, int e, int df) {
    uint32_t po = (uint32_t)lin & (PAGE - 1);
    if (po + (uint32_t)e > PAGE)
        return 0;
    return df > 0 ? (PAGE - po) / (uint32_t)e : po / (uint32_t)e + 1;
}

static void do_movs(uint8_t *d, const uint8_t *s, uint64_t m, int e, int df) {
    uint64_t len = m * (uint64_t)e;
    uint8_t *dlo = df > 0 ? d : d - (len - (uint64_t)e);
    const uint8_t *slo = df > 0 ? s : s - (len - (uint64_t)e);
    if (dlo + len <= slo || slo + len <= dlo || (df > 0 ? d <= s : d >= s)) {
        /* disjoint, or the writes stay behind the reads: what a block move gives */
        memmove(dlo, slo, len);
        return;
    }
    /* a copy that reads what it wrote (a pattern fill): element by element */
    for (uint64_t i = 0; i < m; i++) {
        uint64_t v;
        int64_t k = df > 0 ? (int64_t)(i * (uint64_t)e) : -(int64_t)(i * (uint64_t)e);
        memcpy(&v, s + k, (size_t)e);
        memcpy(d + k, &v, (size_t)e);
    }
}

static void do_stos(uint8_t *d, uint64_t m, int e, int df, uint64_t v) {
    uint64_t len = m * (uint64_t)e;
    uint8_t *dlo = df > 0 ? d : d - (len - (uint64_t)e);
    if (e == 1) {
        memset(dlo, (int)(v & 0xff), len);
        return;
    }
    for (uint64_t i = 0; i < m; i++)
        memcpy(dlo + i * (uint64_t)e, &v, (size_t)e);
}

/* Nothing but us, the IF watcher and (counted runs) the count hook and the transition
 * detector: no memory hook, no other code or block hook. */
static int no_watchers(const struct bootdbg_blockcount *b) {
    const int32_t *h = b->hooks_count;
    int counted = b->enabled == 2;
    return h[IDX_CODE] == counted && h[IDX_MEM_READ] == 0 && h[IDX_MEM_WRITE] == 0
           && h[IDX_MEM_FETCH] == 0 && h[IDX_MEM_READ_AFTER] == 0
           && h[IDX_BLOCK] == 1 + (*b->irq_armed ? 1 : 0) + (counted ? b->extra_block_hooks : 0);
}

/* Before writing RAM [lo, hi) (offsets from physical 0): open it, and with paging off the
 * `rest` bytes the copy will go on writing after it in direction df, unless [*plo, *phi)
 * (what this call opened already) holds it. */
static void open_ahead(const struct rep_ctx *c, uint64_t lo, uint64_t hi, uint64_t rest, int df,
                       uint64_t *plo, uint64_t *phi) {
    struct bootdbg_blockcount *b = c->b;
    if (lo >= *plo && hi <= *phi)
        return;
    uint64_t a = lo & ~(uint64_t)(PAGE - 1), z = (hi + PAGE - 1) & ~(uint64_t)(PAGE - 1);
    if (!(c->cr0 & CR0_PG)) {
        if (rest > PREPARE_MAX)
            rest = PREPARE_MAX;
        if (df > 0) {
            uint64_t bound = lo < LOW_HOLE ? LOW_HOLE : b->ram_size;
            uint64_t end = (lo + rest + PAGE - 1) & ~(uint64_t)(PAGE - 1);
            end = end < bound ? end : bound;
            z = end > z ? end : z;
        } else {
            uint64_t bound = lo >= LOW_HOLE_END ? LOW_HOLE_END : 0;
            uint64_t start = (hi > rest ? hi - rest : 0) & ~(uint64_t)(PAGE - 1);
            start = start > bound ? start : bound;
            a = start < a ? start : a;
        }
    }
    b->prepare(b->journal, a, z - a);
    b->prepared_runs++;
    *plo = a;
    *phi = z;
}

static uint64_t seg_base(const struct rep_ctx *c, int seg) {
    return env64(c->env, c->b->envoff[REP_OFF_SEGS] + 24 * seg + 8);
}

uint64_t bootdbg_rep_iterations(struct bootdbg_blockcount *b, void *uc, uint64_t address,
                                uint32_t size, uint64_t budget) {
    if (!b->rep_on || budget == 0 || size < 2 || size > 8)
        return 0;
    uint64_t key = (address << 4) | size;
    uint64_t *slot = &b->not_rep[(address ^ (address >> 6)) & 63];
    if (*slot == key)
        return 0;
    const uint8_t *env = b->env;
    uint32_t ef = *(const uint32_t *)(env + b->eflags_off);
    uint32_t hf = *(const uint32_t *)(env + b->hflags_off);
    if ((ef & (EF_TF | EF_RF | EF_VM)) || (hf & (HF_INHIBIT | HF_SMAP))
            || (hf & 3) == 3 || (env64(env, b->envoff[REP_OFF_DR7]) & 0xff)
            || !no_watchers(b) || (*b->irq_armed && (ef & EF_IF)))
        return 0;
    const int cr = b->envoff[REP_OFF_CR];
    struct rep_ctx c = {b, env, env64(env, cr), env64(env, cr + 3 * 8), env64(env, cr + 4 * 8),
                        env64(env, b->envoff[REP_OFF_EFER]),
                        (uint64_t)(int64_t)*(const int32_t *)(env + b->envoff[REP_OFF_A20]),
                        (hf & HF_LMA) != 0};
    int code64 = (hf & HF_CS64) != 0;
    if ((address & (PAGE - 1)) + size > PAGE || address >= (code64 ? LOW_HALF : 1ull << 32))
        return 0;
    uint64_t code_page;
    const uint8_t *code = host_of(&c, address, 0, 1, &code_page);
    if (code == NULL)
        return 0;
    struct insn in;
    if (!decode(code, size, code64 ? 64 : (hf & HF_CS32) ? 32 : 16, &in)) {
        *slot = key;
        return 0;
    }
    uint64_t *regs = (uint64_t *)(uintptr_t)env;          /* RAX RCX RDX RBX RSP RBP RSI RDI */
    uint64_t amask = in.abits == 64 ? ~0ull : in.abits == 32 ? 0xffffffffull : 0xffffull;
    uint64_t count = regs[1] & amask;
    if (count < 2)
        return 0;
    uint64_t todo = count - 1 < budget ? count - 1 : budget;
    int df = *(const int32_t *)(env + b->envoff[REP_OFF_DF]) < 0 ? -1 : 1;
    int e = in.esize;
    /* segment bases as QEMU's gen_lea_v_seg adds them: 16-bit addresses always; 32-bit ones
     * with an override or HF_ADDSEG; 64-bit ones only with an override (never ES's) */
    int addseg = in.abits == 16 || (in.abits == 32 && (hf & HF_ADDSEG));
    uint64_t dbase = addseg ? seg_base(&c, 0) : 0;
    uint64_t sbase = (addseg || in.ovr >= 0) ? seg_base(&c, in.ovr >= 0 ? in.ovr : 3) : 0;
    uint64_t lmask = in.abits == 64 ? ~0ull : 0xffffffffull;
    uint64_t si = regs[6] & amask, di = regs[7] & amask, done = 0;
    uint64_t value = regs[0];
    uint64_t plo = 1, phi = 0;                              /* RAM opened (nothing yet) */
    while (done < todo) {
        uint64_t m = todo - done, f;
        uint64_t dlin = (dbase + di) & lmask, slin = (sbase + si) & lmask;
        f = offset_fit(di, amask, e, df); m = f < m ? f : m;
        f = page_fit(dlin, e, df); m = f < m ? f : m;
        if (in.movs) {
            f = offset_fit(si, amask, e, df); m = f < m ? f : m;
            f = page_fit(slin, e, df); m = f < m ? f : m;
        }
        if (m == 0)
            break;
        uint64_t spage = 0, dpage;
        const uint8_t *s = in.movs ? host_of(&c, slin, 0, 0, &spage) : NULL;
        if (in.movs && s == NULL)
            break;
        uint8_t *d = host_of(&c, dlin, 1, 0, &dpage);
        if (d == NULL || dpage == code_page)
            break;
        uint64_t len = m * (uint64_t)e;
        uint8_t *dlo = df > 0 ? d : d - (len - (uint64_t)e);
        uint64_t ra = b->ram_addr(uc, dlo);
        if (ra == ~0ull)
            break;
        if (b->prepare != NULL)
            open_ahead(&c, (uint64_t)(dlo - b->ram), (uint64_t)(dlo - b->ram) + len,
                       (todo - done) * (uint64_t)e, df, &plo, &phi);
        if (in.movs)
            do_movs(d, s, m, e, df);
        else
            do_stos(d, m, e, df, value);
        b->invalidate(uc, ra, ra + len);
        uint64_t step = len;
        di = (df > 0 ? di + step : di - step) & amask;
        if (in.movs)
            si = (df > 0 ? si + step : si - step) & amask;
        done += m;
    }
    if (done == 0)
        return 0;
    /* (as QEMU writes them: a 32-bit register zero-extended, a 16-bit one merged) */
    uint64_t keep = in.abits == 16 ? ~amask : 0;
    regs[1] = (regs[1] & keep) | ((count - done) & amask);
    regs[7] = (regs[7] & keep) | di;
    if (in.movs)
        regs[6] = (regs[6] & keep) | si;
    b->rep_done += done;
    b->rep_runs++;
    return done;
}
