/*
 * bootdbg native interrupt delivery: the machine's UC_HOOK_INTR callback, in C.
 *
 * Unicorn reports an INT n, an exception or a #DB trap and carries on without vectoring
 * (unicorn-notes.md section 1).  The Python hook (traps.py) records it and stops the engine; the
 * machine then delivers it through the guest's tables with the engine at rest (delivery.py) --
 * a full stop, a Python delivery and often a re-run of the fast slice for every event.  This hook
 * delivers the common case without leaving emu_start: real mode (CR0.PE=0) through the IVT, with
 * exactly delivery.py's `_deliver_real` (push FLAGS, CS, IP; load CS:IP from the IVT; clear IF, TF,
 * AC, RF), and records what it did in a ring the machine reads after the slice (the exception
 * events, the interrupt listeners, the instruction counts).  Everything it cannot vouch for goes to
 * the Python hook, unchanged (`fallback`): protected mode, #PF, an INT3 in the BIOS ROM (a stub), an
 * IVT entry past IDTR.limit, a stack or IVT not plainly in RAM, a stack push that wraps, a fault in
 * the middle of a block counted by the block counter (its count would be the whole block's).
 *
 * Used through ctypes; links against nothing (the Unicorn functions are passed in as pointers).
 */
#include <stdint.h>
#include <string.h>
#include <Python.h>

typedef void (*intr_fn)(void *uc, uint32_t intno, void *user_data);
typedef int (*mem_fn)(void *uc, uint64_t address, void *bytes, uint64_t size);
typedef int (*reg_read_fn)(void *uc, int regid, void *value);
typedef int (*uc_ctl_fn)(void *uc, int control, ...);
typedef int (*emu_stop_fn)(void *uc);

struct bootdbg_intrec {
    uint64_t count;        /* the slice's instruction count when it was delivered */
    int64_t restarts;      /* the block counter's re-run count then (count-hook slices) */
    uint32_t ip, frame;    /* return IP pushed; linear address of the frame (SS.base + SP) */
    uint32_t pc;           /* linear PC before delivery (the faulting or next instruction) */
    uint32_t error_code;
    uint16_t cs;           /* return CS pushed */
    uint8_t vector;
    uint8_t kind;          /* 0: INT n (software), 1: exception */
    uint8_t fast;          /* 1: counted by blocks */
    uint8_t width;         /* of the frame's slots: 2 or 4 */
    uint8_t real;          /* a real-mode frame */
    uint8_t has_ec;        /* an error code was pushed */
};

struct bootdbg_intdeliver {
    uint8_t *env;
    intr_fn fallback;
    mem_fn mem_read;
    mem_fn mem_write;
    reg_read_fn reg_read;
    uc_ctl_fn uc_ctl;
    emu_stop_fn emu_stop;
    const int32_t *blocks_enabled;   /* the block counter's mode (1: counting a fast slice) */
    const uint64_t *blocks_counter;
    const uint64_t *blocks_last;     /* instructions of the block being run */
    const int64_t *restarts;
    const uint64_t *emu_counter;     /* Unicorn's count hook's counter */
    uint64_t ram_size;
    int32_t enabled;                 /* set by the machine for each slice */
    int32_t remove_cache;            /* UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2) */
    int32_t eflags_reg;              /* UC_X86_REG_EFLAGS */
    uint32_t nrec, cap;
    uint32_t nexc;                   /* records of exceptions (kind 1) in the ring */
    struct bootdbg_intrec *recs;
    uint64_t delivered, fallbacks;
};

/* CPUX86State offsets (uc_layout.py, verified at start-up there) */
#define OFF_REGS 0
#define OFF_EIP 128
#define OFF_EFLAGS 136
#define OFF_CC_SRC 152
#define OFF_CC_OP 168
#define OFF_DF 172
#define OFF_HFLAGS 176
#define OFF_SEGS 184
#define OFF_IDT 400
#define OFF_A20 496
#define OFF_ERROR_CODE 5384
#define OFF_IS_INT 5388
#define OFF_OLD_EXCEPTION 5496
#define OFF_DR7 (5400 + 7 * 8)
#define OFF_LDT 328
#define OFF_TR 352
#define OFF_GDT 376
#define OFF_CR 424
#define OFF_EFER 592
#define SEG_ES 0
#define SEG_CS 1
#define SEG_SS 2
#define SEG_DS 3
#define SEG_FS 4
#define SEG_GS 5
#define AR_UNUSABLE (1u << 16)
#define HF_CS32 (1u << 4)
#define HF_SS32 (1u << 5)
#define HF_ADDSEG (1u << 6)
#define HF_LMA (1u << 14)
#define HF_CS64 (1u << 15)
#define HF_DERIVED (3u | HF_CS32 | HF_SS32 | HF_ADDSEG | HF_PE | (7u << 9) | HF_LMA | HF_CS64 \
                    | (1u << 22) | (1u << 23))
#define RF_NT 0x4000u
#define RF_VM 0x20000u
#define HF_PE (1u << 7)
#define CC_OP_EFLAGS 1
#define CC_MASK 0x8D5u
#define DF_MASK 0x400u
#define RF_TF 0x100u
#define RF_IF 0x200u
#define RF_RF 0x10000u
#define RF_AC 0x40000u

#define U32(off) (*(uint32_t *)(env + (off)))
#define U64(off) (*(uint64_t *)(env + (off)))

static int plain_ram(const struct bootdbg_intdeliver *d, uint64_t phys, uint64_t size) {
    /* RAM, and none of the legacy hole (VGA memory and the ROMs are devices or stubs) */
    if (phys + size > d->ram_size) return 0;
    if (phys < 0x100000 && phys + size > 0xA0000) return 0;
    return 1;
}

/* A linear read with paging off: one piece of plain RAM (A20 applied), little-endian. */
static int rd(struct bootdbg_intdeliver *d, void *uc, uint64_t lin, uint32_t size,
              uint64_t *val) {
    uint64_t a20 = (uint64_t)(int64_t) * (int32_t *)(d->env + OFF_A20);
    uint64_t p = lin & 0xFFFFFFFFu & a20;
    if (((lin + size - 1) & 0xFFFFFFFFu & a20) != p + size - 1 || !plain_ram(d, p, size))
        return 0;
    uint8_t b[16] = {0};
    if (d->mem_read(uc, p, b, size) != 0) return 0;
    uint64_t v = 0;
    for (uint32_t i = 0; i < size && i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    *val = v;
    return 1;
}

/* delivery.py's pushes, planned before anything is written (a push that cannot be done
 * plainly sends the whole delivery to Python). */
struct pushes { int n; uint64_t phys[12]; uint32_t size[12]; uint64_t value[12]; };

static int plan_push(struct bootdbg_intdeliver *d, struct pushes *P, uint64_t base,
                     uint64_t *sp, uint64_t mask, uint32_t size, uint64_t value) {
    uint64_t a20 = (uint64_t)(int64_t) * (int32_t *)(d->env + OFF_A20);
    *sp = (*sp - size) & mask;
    uint64_t lin = base + *sp;
    uint64_t p = lin & 0xFFFFFFFFu & a20;
    if (((lin + size - 1) & 0xFFFFFFFFu & a20) != p + size - 1 || !plain_ram(d, p, size))
        return 0;
    P->phys[P->n] = p;
    P->size[P->n] = size;
    P->value[P->n] = value;
    P->n++;
    return 1;
}

static void do_pushes(struct bootdbg_intdeliver *d, void *uc, const struct pushes *P) {
    for (int i = 0; i < P->n; i++) {
        uint8_t b[8];
        for (uint32_t k = 0; k < P->size[i]; k++) b[k] = (uint8_t)(P->value[i] >> (8 * k));
        d->mem_write(uc, P->phys[i], b, P->size[i]);
        d->uc_ctl(uc, d->remove_cache, P->phys[i], P->phys[i] + P->size[i]);  /* code there */
    }
}

/* The full EFLAGS now (delivery.py reads them at rest, where QEMU has folded them). */
static int full_flags(struct bootdbg_intdeliver *d, void *uc, uint32_t *flags) {
    return d->reg_read(uc, d->eflags_reg, flags) == 0;
}

/* cpu.eflags = v: what delivery.py writes, split the way QEMU splits EFLAGS when a run starts
 * (the condition codes into CC_SRC with CC_OP_EFLAGS, DF into df). */
static void set_flags(uint8_t *env, uint64_t v) {
    uint64_t nf = (v | 2) & 0x3F7FD7;
    U64(OFF_CC_SRC) = nf & CC_MASK;
    *(int32_t *)(env + OFF_CC_OP) = CC_OP_EFLAGS;
    *(int32_t *)(env + OFF_DF) = (nf & DF_MASK) ? -1 : 1;
    U64(OFF_EFLAGS) = nf & ~(uint64_t)(CC_MASK | DF_MASK);
}

static uint8_t *seg(uint8_t *env, int i) { return env + OFF_SEGS + 24 * i; }

/* cpu.py cache_flags(): the cache's flags for access rights `ar` (VMX layout) and `base` */
static uint32_t cache_flags(uint32_t ar, uint64_t base) {
    uint32_t a = ar & 0xF0FF;
    if (ar & AR_UNUSABLE) a &= ~0x80u;
    return (a << 8) | (uint32_t)((base >> 16) & 0xFF) | (uint32_t)(base & 0xFF000000u);
}

static void load_seg(uint8_t *env, int i, uint32_t sel, uint64_t base, uint32_t limit,
                     uint32_t ar) {
    uint8_t *c = seg(env, i);
    *(uint32_t *)c = sel & 0xFFFF;
    *(uint64_t *)(c + 8) = (i == SEG_FS || i == SEG_GS) ? base : (base & 0xFFFFFFFFu);
    *(uint32_t *)(c + 16) = limit;
    *(uint32_t *)(c + 20) = cache_flags(ar, base);
}

/* cpu.py Cpu.update_hflags() */
static void update_hflags(uint8_t *env) {
    uint64_t cr0 = U64(OFF_CR), cr4 = U64(OFF_CR + 32), efer = U64(OFF_EFER);
    uint64_t eflags = U64(OFF_EFLAGS);
    uint32_t cs_flags = *(uint32_t *)(seg(env, SEG_CS) + 20);
    uint32_t ss_flags = *(uint32_t *)(seg(env, SEG_SS) + 20);
    uint32_t hf = U32(OFF_HFLAGS) & ~HF_DERIVED;
    if (cr0 & 1) hf |= HF_PE;
    hf |= (uint32_t)((cr0 >> 1) & 7) << 9;
    if (cr4 & (1u << 9)) hf |= 1u << 22;
    if (cr4 & (1u << 21)) hf |= 1u << 23;
    int lma = (efer & (1u << 10)) != 0;
    if (lma) hf |= HF_LMA;
    if (lma && (cs_flags & (1u << 21))) {
        hf |= HF_CS32 | HF_SS32 | HF_CS64;
    } else {
        if (cs_flags & (1u << 22)) hf |= HF_CS32;
        if (ss_flags & (1u << 22)) hf |= HF_SS32;
    }
    if (eflags & RF_VM) hf |= 3;
    else if (cr0 & 1) hf |= (ss_flags >> 13) & 3;
    if (!(hf & HF_CS64)) {
        if (!(cr0 & 1) || (eflags & RF_VM) || !(hf & HF_CS32)) {
            hf |= HF_ADDSEG;
        } else if (*(uint64_t *)(seg(env, SEG_DS) + 8) + *(uint64_t *)(seg(env, SEG_ES) + 8)
                   + *(uint64_t *)(seg(env, SEG_SS) + 8)) {
            hf |= HF_ADDSEG;
        }
    }
    U32(OFF_HFLAGS) = hf;
}

/* The access rights (VMX layout) of a cache, as cpu.py seg_from_cache() reports them. */
static uint32_t cache_ar(const uint8_t *c) {
    uint32_t ar = (*(const uint32_t *)(c + 20) >> 8) & 0xF0FF;
    if (!(ar & 0x80)) ar |= AR_UNUSABLE;
    return ar;
}

/* Segment.from_descriptor() of the GDT/LDT entry for `selector` (0: outside the table or not
 * plainly readable: a #GP or worse for Python to raise). */
static int descriptor(struct bootdbg_intdeliver *d, void *uc, uint32_t selector, uint64_t *base,
                      uint32_t *limit, uint32_t *ar) {
    uint8_t *env = d->env;
    uint64_t index = selector & ~7u, tbase, raw;
    if (selector & 4) {
        uint8_t *ldtr = env + OFF_LDT;
        if ((cache_ar(ldtr) & AR_UNUSABLE) || index + 7 > *(uint32_t *)(ldtr + 16)) return 0;
        tbase = *(uint64_t *)(ldtr + 8);
    } else {
        if (index + 7 > *(uint32_t *)(env + OFF_GDT + 16)) return 0;
        tbase = *(uint64_t *)(env + OFF_GDT + 8);
    }
    if (!rd(d, uc, tbase + index, 8, &raw)) return 0;
    uint32_t low = (uint32_t)raw, high = (uint32_t)(raw >> 32);
    *base = (low >> 16) | ((uint64_t)(high & 0xFF) << 16) | (high & 0xFF000000u);
    uint32_t lim = (low & 0xFFFF) | (high & 0xF0000);
    uint32_t a = (high >> 8) & 0xF0FF;
    if (a & 0x8000) lim = (lim << 12) | 0xFFF;
    if (!(a & 0x80)) a |= AR_UNUSABLE;
    *limit = lim;
    *ar = a;
    return 1;
}

static int is_code(uint32_t ar) { return ((ar >> 4) & 1) && (ar & 8); }

struct outcome { uint32_t width, real, has_ec; };

/* delivery.py _deliver_real */
static int deliver_real(struct bootdbg_intdeliver *d, void *uc, uint32_t intno,
                        struct outcome *o) {
    uint8_t *env = d->env;
    uint8_t *cs = seg(env, SEG_CS), *ss = seg(env, SEG_SS);
    uint64_t idt_base = *(uint64_t *)(env + OFF_IDT + 8);
    uint32_t idt_limit = *(uint32_t *)(env + OFF_IDT + 16);
    uint64_t entry, rip = U64(OFF_EIP);
    if ((uint64_t)intno * 4 + 3 > idt_limit) return 0;
    if (!rd(d, uc, idt_base + intno * 4, 4, &entry)) return 0;
    uint64_t mask = (*(uint32_t *)(ss + 20) & (1u << 22)) ? 0xFFFFFFFFu : 0xFFFFu;
    uint64_t sp = U64(OFF_REGS + 8 * 4) & mask, ss_base = *(uint64_t *)(ss + 8);
    uint32_t flags;
    struct pushes P = {0};
    if (!full_flags(d, uc, &flags)) return 0;
    if (!plan_push(d, &P, ss_base, &sp, mask, 2, flags)
            || !plan_push(d, &P, ss_base, &sp, mask, 2, *(uint32_t *)cs)
            || !plan_push(d, &P, ss_base, &sp, mask, 2, rip))
        return 0;
    do_pushes(d, uc, &P);
    U64(OFF_REGS + 8 * 4) = (U64(OFF_REGS + 8 * 4) & ~mask) | sp;
    uint32_t sel = (uint32_t)(entry >> 16) & 0xFFFF;
    /* Segment(sel, sel << 4, cs.limit, cs.ar & ~unusable), then update_hflags */
    load_seg(env, SEG_CS, sel, (uint64_t)sel << 4, *(uint32_t *)(cs + 16),
             cache_ar(cs) & ~AR_UNUSABLE);
    update_hflags(env);
    U64(OFF_EIP) = entry & 0xFFFF;
    set_flags(env, flags & ~(uint64_t)(RF_IF | RF_TF | RF_AC | RF_RF));
    o->width = 2;
    o->real = 1;
    return 1;
}

/* delivery.py _deliver_protected, with paging off; every fault it would raise is left to it */
static int deliver_protected(struct bootdbg_intdeliver *d, void *uc, uint32_t intno,
                             int software, int has_ec, uint32_t error_code, struct outcome *o) {
    uint8_t *env = d->env;
    uint64_t idt_base = *(uint64_t *)(env + OFF_IDT + 8), lo;
    uint32_t idt_limit = *(uint32_t *)(env + OFF_IDT + 16);
    if ((uint64_t)intno * 8 + 7 > idt_limit) return 0;
    if (!rd(d, uc, idt_base + intno * 8, 8, &lo)) return 0;
    uint32_t gate_type = (lo >> 40) & 0x1F, gate_dpl = (lo >> 45) & 3, gate_p = (lo >> 47) & 1;
    uint32_t flags;
    if (!full_flags(d, uc, &flags)) return 0;
    int vm86 = (flags & RF_VM) != 0;
    uint8_t *cs = seg(env, SEG_CS), *ss = seg(env, SEG_SS);
    uint32_t cpl = vm86 ? 3 : (cache_ar(ss) >> 5) & 3;
    if (gate_type != 6 && gate_type != 7 && gate_type != 0xE && gate_type != 0xF) return 0;
    if ((software && gate_dpl < cpl) || !gate_p) return 0;
    int is32 = (gate_type & 8) != 0;
    uint64_t offset = is32 ? ((lo & 0xFFFF) | ((lo >> 32) & 0xFFFF0000u)) : (lo & 0xFFFF);
    uint32_t selector = (lo >> 16) & 0xFFFF;
    uint64_t cs_base, ss_base;
    uint32_t cs_limit, cs_ar, ss_limit, ss_ar;
    if ((selector & 0xFFFC) == 0) return 0;
    if (!descriptor(d, uc, selector, &cs_base, &cs_limit, &cs_ar)) return 0;
    if (!is_code(cs_ar) || ((cs_ar >> 5) & 3) > cpl || !(cs_ar & 0x80)) return 0;
    uint32_t new_cpl = (cs_ar & 4) ? cpl : (cs_ar >> 5) & 3;
    uint32_t old_ss_sel = *(uint32_t *)ss & 0xFFFF, old_cs_sel = *(uint32_t *)cs & 0xFFFF;
    uint64_t old_esp = U64(OFF_REGS + 8 * 4), esp, mask, sp, stack_base;
    uint32_t size = is32 ? 4 : 2, ss_sel = 0;
    int user = new_cpl == 3, switch_stack = new_cpl < cpl;
    struct pushes P = {0};
    (void)user;      /* (no paging: the user/supervisor check does not apply) */
    if (switch_stack) {
        if (vm86 && new_cpl != 0) return 0;
        uint8_t *tr = env + OFF_TR;
        uint32_t tr_ar = cache_ar(tr), tr_limit = *(uint32_t *)(tr + 16);
        uint64_t tr_base = *(uint64_t *)(tr + 8), v_esp, v_ss;
        if (tr_ar & AR_UNUSABLE) return 0;
        if (tr_ar & 8) {
            uint32_t off = 4 + 8 * new_cpl;
            if (off + 5 > tr_limit) return 0;
            if (!rd(d, uc, tr_base + off, 4, &v_esp) || !rd(d, uc, tr_base + off + 4, 2, &v_ss))
                return 0;
        } else {
            uint32_t off = 2 + 4 * new_cpl;
            if (off + 3 > tr_limit) return 0;
            if (!rd(d, uc, tr_base + off, 2, &v_esp) || !rd(d, uc, tr_base + off + 2, 2, &v_ss))
                return 0;
        }
        ss_sel = (uint32_t)v_ss;
        esp = v_esp;
        if ((ss_sel & 0xFFFC) == 0) return 0;
        if (!descriptor(d, uc, ss_sel, &ss_base, &ss_limit, &ss_ar)) return 0;
        if ((ss_sel & 3) != new_cpl || ((ss_ar >> 5) & 3) != new_cpl || is_code(ss_ar)
                || !((ss_ar >> 4) & 1) || !(ss_ar & 2) || !(ss_ar & 0x80))
            return 0;
        mask = (ss_ar & (1u << 14)) ? 0xFFFFFFFFu : 0xFFFFu;
        sp = esp & mask;
        stack_base = ss_base;
        if (vm86) {
            static const int order[4] = {SEG_GS, SEG_FS, SEG_DS, SEG_ES};
            for (int i = 0; i < 4; i++)
                if (!plan_push(d, &P, stack_base, &sp, mask, size,
                               *(uint32_t *)seg(env, order[i]) & 0xFFFF))
                    return 0;
        }
        if (!plan_push(d, &P, stack_base, &sp, mask, size, old_ss_sel)
                || !plan_push(d, &P, stack_base, &sp, mask, size, old_esp))
            return 0;
    } else {
        if (vm86) return 0;
        mask = (*(uint32_t *)(ss + 20) & (1u << 22)) ? 0xFFFFFFFFu : 0xFFFFu;
        sp = old_esp & mask;
        stack_base = *(uint64_t *)(ss + 8);
        esp = old_esp;
    }
    if (!plan_push(d, &P, stack_base, &sp, mask, size, flags)
            || !plan_push(d, &P, stack_base, &sp, mask, size, old_cs_sel)
            || !plan_push(d, &P, stack_base, &sp, mask, size, U64(OFF_EIP)))
        return 0;
    if (has_ec && !software && !plan_push(d, &P, stack_base, &sp, mask, size, error_code))
        return 0;
    /* Commit: nothing below can fault. */
    do_pushes(d, uc, &P);
    if (switch_stack) {
        load_seg(env, SEG_SS, ss_sel, ss_base, ss_limit, ss_ar);
        U64(OFF_REGS + 8 * 4) = (esp & ~mask) | sp;
    } else {
        U64(OFF_REGS + 8 * 4) = (old_esp & ~mask) | sp;
    }
    if (vm86) {
        static const int nulled[4] = {SEG_ES, SEG_DS, SEG_FS, SEG_GS};
        for (int i = 0; i < 4; i++) load_seg(env, nulled[i], 0, 0, 0, AR_UNUSABLE);
    }
    load_seg(env, SEG_CS, (selector & 0xFFFC) | new_cpl, cs_base, cs_limit, cs_ar);
    U64(OFF_EIP) = offset;
    uint64_t nf = flags & ~(uint64_t)(RF_TF | RF_NT | RF_RF | RF_VM);
    if (!(gate_type & 1)) nf &= ~(uint64_t)RF_IF;
    set_flags(env, nf);
    update_hflags(env);
    o->width = size;
    o->real = 0;
    o->has_ec = has_ec && !software;
    return 1;
}

/* SYSRET (0F 07) outside 64-bit mode is #UD, which Unicorn reports as #GP (softint.py). */
static int sysret_at(struct bootdbg_intdeliver *d, void *uc, uint64_t pc) {
    uint64_t a20 = (uint64_t)(int64_t) * (int32_t *)(d->env + OFF_A20);
    uint64_t p = pc & 0xFFFFFFFFu & a20;
    uint8_t code[16];
    if (!plain_ram(d, p, 15) || d->mem_read(uc, p, code, 15) != 0) return 1;  /* unsure */
    int i = 0;
    while (i < 13 && (code[i] == 0x26 || code[i] == 0x2E || code[i] == 0x36 || code[i] == 0x3E
                      || code[i] == 0x64 || code[i] == 0x65 || code[i] == 0x66
                      || code[i] == 0x67 || code[i] == 0xF0 || code[i] == 0xF2
                      || code[i] == 0xF3))
        i++;
    return code[i] == 0x0F && code[i + 1] == 0x07;
}

static int deliver(struct bootdbg_intdeliver *d, void *uc, uint32_t intno) {
    uint8_t *env = d->env;
    int32_t is_int = *(int32_t *)(env + OFF_IS_INT);
    int fast = *d->blocks_enabled == 1;
    uint64_t cr0 = U64(OFF_CR);
    if (d->nrec >= d->cap) return 0;
    if ((cr0 & (1u << 31)) || (U64(OFF_EFER) & (1u << 10))) return 0;   /* paging, long mode */
    if (!is_int) {
        /* #PF may be a translator's look-ahead (faults.py); #DF, #MC... are Python's */
        if (intno != 0 && intno != 1 && intno != 5 && !(intno >= 10 && intno <= 13)) return 0;
        if (fast && *d->blocks_last != 1) return 0;     /* count of a block cut short */
        if (intno == 1 && (*(uint64_t *)(env + OFF_DR7) & 0xFF)) return 0;  /* DR7 hits */
    } else if (intno == 4) {
        return 0;          /* INTO does not end its block: left to the Python path */
    }
    uint8_t *cs = seg(env, SEG_CS);
    uint64_t rip = U64(OFF_EIP);
    uint64_t pc = (*(uint64_t *)(cs + 8) + rip) & 0xFFFFFFFFu;
    if (is_int && intno == 3) {
        uint64_t at = (pc - 1) & 0xFFFFFFFFu;
        if (at >= 0xF0000 && at < 0x100000) return 0;   /* maybe a BIOS stub's INT3 */
    }
    if (!is_int && intno == 13 && sysret_at(d, uc, pc)) return 0;
    uint32_t error_code = *(uint32_t *)(env + OFF_ERROR_CODE);
    int has_ec = !is_int && intno >= 10 && intno <= 13;
    uint32_t cs_sel = *(uint32_t *)cs & 0xFFFF;
    /* The Python hook's first steps (traps.py _hook_intr) */
    int32_t saved_op = *(int32_t *)(env + OFF_CC_OP);
    if (!is_int && !fast && intno != 1)
        *(int32_t *)(env + OFF_CC_OP) = CC_OP_EFLAGS;   /* _repair_lazy_flags */
    struct outcome o = {0, 0, 0};
    int ok = (cr0 & 1) ? deliver_protected(d, uc, intno, is_int, has_ec, error_code, &o)
                       : deliver_real(d, uc, intno, &o);
    if (!ok) {
        *(int32_t *)(env + OFF_CC_OP) = saved_op;       /* (the Python hook does it again) */
        return 0;
    }
    *(int32_t *)(env + OFF_OLD_EXCEPTION) = -1;
    uint8_t *ss = seg(env, SEG_SS);
    uint64_t rsp = U64(OFF_REGS + 8 * 4);
    if (o.width == 2) rsp &= (*(uint32_t *)(ss + 20) & (1u << 22)) ? 0xFFFFFFFFu : 0xFFFFu;
    struct bootdbg_intrec *r = &d->recs[d->nrec++];
    r->count = fast ? *d->blocks_counter : *d->emu_counter;
    r->restarts = *d->restarts;
    r->ip = (uint32_t)rip;
    r->frame = (uint32_t)((*(uint64_t *)(ss + 8) + rsp) & 0xFFFFFFFFu);
    r->pc = (uint32_t)pc;
    r->error_code = error_code;
    r->cs = (uint16_t)cs_sel;
    r->vector = (uint8_t)intno;
    r->kind = is_int ? 0 : 1;
    r->fast = (uint8_t)fast;
    r->width = (uint8_t)o.width;
    r->real = (uint8_t)o.real;
    r->has_ec = (uint8_t)o.has_ec;
    d->nexc += r->kind;
    d->delivered++;
    if (d->nrec >= d->cap)
        d->emu_stop(uc);          /* the ring is full: the machine reads it, then goes on */
    return 1;
}

void bootdbg_intdeliver_cb(void *uc, uint32_t intno, void *user_data) {
    struct bootdbg_intdeliver *d = (struct bootdbg_intdeliver *)user_data;
    if (d->enabled && deliver(d, uc, intno))
        return;
    d->fallbacks++;
    d->fallback(uc, intno, NULL);
}

int bootdbg_intdeliver_size(void) { return (int)sizeof(struct bootdbg_intdeliver); }
int bootdbg_intrec_size(void) { return (int)sizeof(struct bootdbg_intrec); }

static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_intdeliver",
                                 "bootdbg native interrupt delivery (used through ctypes)", -1,
                                 NULL};
PyMODINIT_FUNC PyInit__intdeliver(void) { return PyModule_Create(&mod); }
