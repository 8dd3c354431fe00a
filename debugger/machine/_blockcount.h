/* The native block counter's state, shared by _blockcount.c and _repstring.c (the layout is
 * mirrored by blockcount.py's ctypes structure). */
#ifndef BOOTDBG_BLOCKCOUNT_H
#define BOOTDBG_BLOCKCOUNT_H
#include <stdint.h>
#include <stddef.h>

typedef int (*emu_stop_fn)(void *uc);
typedef int (*uc_ctl_fn)(void *uc, int control, ...);
typedef int (*vmem_read_fn)(void *uc, uint64_t address, int prot, void *bytes, size_t size);
typedef void *(*tlb_host_fn)(void *env, uint64_t addr, int access_type, int mmu_idx);
typedef uint64_t (*ram_addr_fn)(void *uc, void *ptr);
typedef void (*invalidate_fn)(void *uc, uint64_t start, uint64_t end);
typedef void (*prepare_fn)(void *journal, uint64_t off, uint64_t len);
struct uc_tb_out { uint64_t pc; uint16_t icount; uint16_t size; };

struct bootdbg_blockcount {
    const uint8_t *cpu;        /* CPUState */
    const uint8_t *env;        /* CPUX86State */
    emu_stop_fn emu_stop;
    int64_t jmp_off;           /* offset of tb_jmp_cache[4096] in CPUState */
    int32_t hflags_off, eflags_off, csbase_off, enabled;
    uint64_t counter;          /* instructions of the blocks entered this slice */
    uint64_t limit;            /* never enter a block that would pass this */
    int32_t irregular;         /* 1: block unknown or other flags, 2: block QEMU cut short */
    int32_t partial;           /* stopped before a block that would pass the limit */
    uint64_t blocks;
    uint64_t last;             /* instructions of the last block counted */
    uc_ctl_fn uc_ctl;          /* for a block the jump cache lost (a TLB flush clears it) */
    int32_t request_cache;     /* UC_CTL_READ_WRITE(UC_CTL_TB_REQUEST_CACHE, 2) */
    int32_t lookups;
    uint64_t last_pc;          /* address and size of the last block counted */
    uint64_t last_size;
    uint64_t *count_limit;     /* the count limit in force: uc->emu_count for Unicorn's count
                                  hook, or a self-counting code hook's own */
    int64_t restarts;          /* watch mode: blocks QEMU re-ran after a store into them
                                  (never reset: native hooks compare it with what they saw) */
    uint8_t *skip_sync;        /* uc->skip_sync_pc_on_exit */
    uint32_t last_hflags;      /* the CPU's hflags when the last block counted started (its
                                  code size: a far jump at its end may change the CPU's) */
    uint32_t pad;
    /* Blocks Unicorn would run differently from the CPU (see `exact_special`): the engine is
     * stopped before one (in both modes); the machine then runs it one instruction at a time
     * and corrects each (`debugger/machine/exactfix.py`). */
    int32_t special;           /* why the last stop was made: EXACT_* bits (0: none) */
    int32_t checks;            /* which EXACT_* checks are on */
    uint64_t allow_pc;         /* a block start let through once (the machine is stepping it) */
    uint64_t special_pc;       /* address and size of the block stopped before */
    uint64_t special_size;
    vmem_read_fn vmem_read;    /* uc_vmem_read: a block's bytes, for EXACT_SCAN */
    int32_t stop_next;         /* an interrupt request (Ctrl-C): stop before the next block, an
                                  instruction boundary with nothing of it counted (set from a
                                  signal handler or another thread; the machine clears it; when
                                  counting by blocks it also sets `limit` to 0) */
    int32_t interrupted;       /* the last stop was made for stop_next */
    /* REP MOVS/STOS in place (_repstring.c); rep_on = 0: never. */
    int32_t rep_on;
    int32_t rep_pad;
    const int32_t *hooks_count;    /* uc->hooks_count[UC_HOOK_*_IDX] */
    const int32_t *irq_armed;      /* the IF watcher (_irqwait.c) is installed */
    uint8_t *ram;                  /* guest RAM: physical 0 .. ram_size, host memory of ours */
    uint64_t ram_size;
    tlb_host_fn tlb_host;          /* tlb_vaddr_to_host: QEMU's TLB view of a page */
    ram_addr_fn ram_addr;          /* qemu_ram_addr_from_host */
    invalidate_fn invalidate;      /* tb_invalidate_phys_range: translated code written over */
    uint64_t rep_done;             /* statistics: iterations done in place, and in how many runs */
    uint64_t rep_runs;
    int32_t envoff[8];             /* CPUX86State offsets: REP_OFF_* */
    uint64_t not_rep[64];          /* TranslationBlocks seen not to be REP MOVS/STOS */
    /* ... also in runs counted by Unicorn's count hook (watch mode), on a re-entry of the REP's
     * block only (every other block hook has seen its first entry) */
    uint64_t *uc_emu_count;        /* &uc->emu_count, &uc->emu_counter */
    uint64_t *uc_emu_counter;
    int32_t extra_block_hooks;     /* block hooks that see nothing in a REP's re-entries (the
                                      transition detector: iterations change no watched state) */
    int32_t pad2;
    uint64_t prev_pc;              /* watch mode: the block entered before */
    /* Task switches (EXACT_TASK) */
    int32_t ldt_off, gdt_off;      /* env offsets of the LDTR and GDTR caches */
    /* The last bytes of blocks that may end in a far JMP/CALL, by TranslationBlock, kept when
     * the block is judged (a block object is reused only for a new translation, which is
     * judged before it runs) */
    const uint8_t *tail_tb[64];
    uint8_t tail[64][16];
    uint8_t tail_n[64];
    int32_t cr0_off, a20_off;      /* for reads from `ram` while paging is off (guest_read) */
    /* For a kept tail whose block may store before it (TAIL_STORES): the stores to [disp], when
     * they are all (TAIL_KNOWN): segments and offsets (`_storescan.c`'s bootdbg_stores_abs) */
    uint32_t tail_off[64][4];
    uint8_t tail_seg[64][4];
    uint8_t tail_k[64];
    /* The page journal (_pagejournal.c): REP MOVS/STOS open the RAM they are about to write
     * (bootdbg_pagejournal_prepare) instead of taking a fault on each page; NULL: not ours */
    prepare_fn prepare;
    void *journal;
    uint64_t prepared_runs;        /* statistics: calls to prepare */
};

#define REP_OFF_DF 0
#define REP_OFF_SEGS 1
#define REP_OFF_CR 2
#define REP_OFF_A20 3
#define REP_OFF_EFER 4
#define REP_OFF_DR7 5

/* REP MOVS/STOS iterations done in place (_repstring.c): how many of the `budget` it did. */
uint64_t bootdbg_rep_iterations(struct bootdbg_blockcount *b, void *uc, uint64_t address,
                                uint32_t size, uint64_t budget);

#endif
