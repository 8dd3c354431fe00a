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
    uint32_t fast;         /* 1: counted by blocks */
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
#define SEG_CS 1
#define SEG_SS 2
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

static int deliver_real(struct bootdbg_intdeliver *d, void *uc, uint32_t intno) {
    uint8_t *env = d->env;
    int32_t is_int = *(int32_t *)(env + OFF_IS_INT);
    int fast = *d->blocks_enabled == 1;
    if (U32(OFF_HFLAGS) & HF_PE) return 0;
    if (d->nrec >= d->cap) return 0;
    if (!is_int) {
        /* #DE, #DB, #BR only: #GP may be SYSRET's #UD, #PF a translator's look-ahead
         * (faults.py, softint.py) */
        if (intno != 0 && intno != 1 && intno != 5) return 0;
        if (fast && *d->blocks_last != 1) return 0;     /* count of a block cut short */
        if (intno == 1 && (*(uint64_t *)(env + OFF_DR7) & 0xFF)) return 0;  /* DR7 hits */
    } else if (intno == 4) {
        return 0;          /* INTO does not end its block: left to the Python path */
    }
    uint8_t *cs = env + OFF_SEGS + 24 * SEG_CS, *ss = env + OFF_SEGS + 24 * SEG_SS;
    uint64_t a20 = (uint64_t)(int64_t) * (int32_t *)(env + OFF_A20);
    uint64_t cs_base = *(uint64_t *)(cs + 8);
    uint64_t rip = U64(OFF_EIP);
    uint64_t pc = (cs_base + rip) & 0xFFFFFFFFu;
    if (is_int && intno == 3) {
        uint64_t at = (pc - 1) & 0xFFFFFFFFu;
        if (at >= 0xF0000 && at < 0x100000) return 0;   /* maybe a BIOS stub's INT3 */
    }
    uint64_t idt_base = *(uint64_t *)(env + OFF_IDT + 8);
    uint32_t idt_limit = *(uint32_t *)(env + OFF_IDT + 16);
    if ((uint64_t)intno * 4 + 3 > idt_limit) return 0;
    uint64_t ivt = (idt_base + intno * 4) & 0xFFFFFFFFu & a20;
    if (!plain_ram(d, ivt, 4)) return 0;
    uint32_t ss_flags = *(uint32_t *)(ss + 20);
    uint64_t mask = (ss_flags & (1u << 22)) ? 0xFFFFFFFFu : 0xFFFFu;
    uint64_t sp = U64(OFF_REGS + 8 * 4) & mask;
    if (sp < 6) return 0;                               /* the pushes wrap */
    uint64_t ss_base = *(uint64_t *)(ss + 8);
    uint64_t nsp = sp - 6;
    uint64_t p = (ss_base + nsp) & 0xFFFFFFFFu & a20;
    if (((ss_base + nsp + 4) & 0xFFFFFFFFu & a20) != p + 4) return 0;  /* not contiguous */
    if (!plain_ram(d, p, 6)) return 0;
    uint8_t entry[4];
    if (d->mem_read(uc, ivt, entry, 4) != 0) return 0;
    /* Committed from here (as the Python hook and delivery do it). */
    *(int32_t *)(env + OFF_OLD_EXCEPTION) = -1;
    if (!is_int && !fast && intno != 1)
        *(int32_t *)(env + OFF_CC_OP) = CC_OP_EFLAGS;   /* traps.py _repair_lazy_flags */
    uint32_t flags = 0;
    if (d->reg_read(uc, d->eflags_reg, &flags) != 0) return 0;
    uint16_t cs_sel = (uint16_t)*(uint32_t *)cs;
    uint8_t frame[6];
    frame[0] = (uint8_t)rip; frame[1] = (uint8_t)(rip >> 8);
    frame[2] = (uint8_t)cs_sel; frame[3] = (uint8_t)(cs_sel >> 8);
    frame[4] = (uint8_t)flags; frame[5] = (uint8_t)(flags >> 8);
    if (d->mem_write(uc, p, frame, 6) != 0) return 0;
    d->uc_ctl(uc, d->remove_cache, (uint64_t)p, (uint64_t)p + 6);  /* code under the stack */
    U64(OFF_REGS + 8 * 4) = (U64(OFF_REGS + 8 * 4) & ~mask) | nsp;
    uint32_t sel = (uint32_t)entry[2] | ((uint32_t)entry[3] << 8);
    uint64_t base = (uint64_t)sel << 4;
    /* delivery.py: Segment(sel, sel << 4, cs.limit, cs.ar & ~unusable), cache_flags() */
    uint32_t ar = (*(uint32_t *)(cs + 20) >> 8) & 0xF0FF;
    *(uint32_t *)cs = sel;
    *(uint64_t *)(cs + 8) = base;
    *(uint32_t *)(cs + 20) = (ar << 8) | (uint32_t)((base >> 16) & 0xFF)
                             | (uint32_t)(base & 0xFF000000u);
    U64(OFF_EIP) = (uint64_t)entry[0] | ((uint64_t)entry[1] << 8);
    /* The flags as delivery.py leaves them at rest ((v | 2) & 0x3F7FD7, without IF, TF, AC,
     * RF), split the way QEMU splits them when a run starts (lazy flags from CC_SRC). */
    uint64_t nf = ((uint64_t)flags | 2) & 0x3F7FD7 & ~(uint64_t)(RF_IF | RF_TF | RF_AC | RF_RF);
    U64(OFF_CC_SRC) = nf & CC_MASK;
    *(int32_t *)(env + OFF_CC_OP) = CC_OP_EFLAGS;
    *(int32_t *)(env + OFF_DF) = (nf & DF_MASK) ? -1 : 1;
    U64(OFF_EFLAGS) = nf & ~(uint64_t)(CC_MASK | DF_MASK);
    struct bootdbg_intrec *r = &d->recs[d->nrec++];
    r->count = fast ? *d->blocks_counter : *d->emu_counter;
    r->restarts = *d->restarts;
    r->ip = (uint32_t)(rip & 0xFFFF);
    r->frame = (uint32_t)((ss_base + nsp) & 0xFFFFFFFFu);
    r->pc = (uint32_t)pc;
    r->error_code = *(uint32_t *)(env + OFF_ERROR_CODE);
    r->cs = cs_sel;
    r->vector = (uint8_t)intno;
    r->kind = is_int ? 0 : 1;
    d->nexc += r->kind;
    r->fast = (uint32_t)fast;
    d->delivered++;
    if (d->nrec >= d->cap)
        d->emu_stop(uc);          /* the ring is full: the machine reads it, then goes on */
    return 1;
}

void bootdbg_intdeliver_cb(void *uc, uint32_t intno, void *user_data) {
    struct bootdbg_intdeliver *d = (struct bootdbg_intdeliver *)user_data;
    if (d->enabled && deliver_real(d, uc, intno))
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
