/*
 * bootdbg page journal: checkpoints of guest RAM that cost what the pages written since them
 * cost.  The machine's RAM is host memory of ours (mapped into Unicorn with uc_mem_map_ptr);
 * taking a checkpoint ("mark") write-protects the pages written since the previous one, and the
 * first store to a protected page -- from translated code, a QEMU helper (page-table A/D bits)
 * or uc_mem_write -- faults: the SIGSEGV handler saves the page's contents to the journal, makes
 * the page writable and returns, so the store runs again and succeeds.  Going back to a mark
 * copies the saved pages back, newest first (the oldest copy after the mark wins).
 *
 * Unicorn's own memory snapshots add one memory region per page written per snapshot level and
 * never merge them; rebuilding QEMU's flat view is linear in that count, so a snapshot costs more
 * the more is written after it (quadratic in the pages written).  Here a fault costs a signal,
 * an mprotect and a 4 KiB copy, whatever came before.
 *
 * Native code of ours about to write a known range of RAM (REP MOVS/STOS done in place,
 * _repstring.c) asks for it first (bootdbg_pagejournal_prepare): the same saves, with one
 * mprotect for the range and no signal per page.
 *
 * The journal is one log of (page, saved copy) entries; a mark is a position in it.  Marks are
 * managed by Python (pagejournal.py), which passes the live positions in when it compacts.
 * Used through ctypes; links against nothing.
 */
#define _GNU_SOURCE
#include <Python.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096u
#define MAX_REGIONS 256
#define COMMIT_STEP (256u * PAGE)
#define KEEP_RESIDENT (64ull << 20)    /* arena bytes a clear keeps (a multiple of COMMIT_STEP) */

struct bootdbg_pagejournal {
    uint8_t *ram;
    uint64_t size;
    uint32_t npages;
    int32_t active;          /* a mark is live: save pages before their first write */
    int32_t all_writable;    /* nothing protected yet (before the first mark) */
    uint32_t len, cap;       /* log entries used / reserved */
    uint32_t *log_page;      /* cap entries */
    int32_t *log_prev;       /* previous entry of the same page, or -1 */
    int32_t *last;           /* npages: the page's newest entry, or -1 */
    uint8_t *arena;          /* cap pages reserved (PROT_NONE), committed as needed */
    uint64_t committed;      /* bytes of the arena made writable */
    uint32_t *unprot;        /* npages: pages made writable since the last mark */
    uint32_t nunprot;
    uint8_t *is_unprot;      /* npages */
    uint64_t faults;         /* statistics: pages saved, faults taken */
    uint64_t saved;
    int32_t failed;          /* the arena could not grow: a page was not saved (checkpoints
                                older than this are unusable; Python refuses them) */
    int32_t pad;
    uint64_t prepared;       /* statistics: pages made writable by bootdbg_pagejournal_prepare */
};

static struct bootdbg_pagejournal *regions[MAX_REGIONS];
static struct sigaction previous;
static int installed;

static void handler(int sig, siginfo_t *info, void *uctx);

static int ours_installed(void) {
    struct sigaction cur;
    if (sigaction(SIGSEGV, NULL, &cur) != 0)
        return 0;
    return (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == handler;
}

/* Install the handler (again, if something -- faulthandler -- replaced it: that one becomes the
 * handler we pass foreign faults to). */
int bootdbg_pagejournal_install(void) {
    if (installed && ours_installed())
        return 0;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old) != 0)
        return -1;
    if (!((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == handler))
        previous = old;
    installed = 1;
    return 0;
}

static void save_page(struct bootdbg_pagejournal *j, uint32_t page) {
    if (j->len >= j->cap) {
        j->failed = 1;
        return;
    }
    uint64_t need = ((uint64_t)j->len + 1) * PAGE;
    if (need > j->committed) {
        if (mprotect(j->arena + j->committed, COMMIT_STEP, PROT_READ | PROT_WRITE) != 0) {
            j->failed = 1;
            return;
        }
        j->committed += COMMIT_STEP;
    }
    memcpy(j->arena + (uint64_t)j->len * PAGE, j->ram + (uint64_t)page * PAGE, PAGE);
    j->log_page[j->len] = page;
    j->log_prev[j->len] = j->last[page];
    j->last[page] = (int32_t)j->len;
    j->len++;
    j->saved++;
}

/* (the page is saved, when a mark needs it, and listed as writable; the caller unprotects it) */
static void open_page(struct bootdbg_pagejournal *j, uint32_t page) {
    if (j->active)
        save_page(j, page);
    j->is_unprot[page] = 1;
    j->unprot[j->nunprot++] = page;
}

/* Make [first, first + n) pages writable; on failure (too many mappings: vm.max_map_count)
 * all of RAM writable again, and the checkpoints are lost rather than a store faulting for
 * ever. */
static void unprotect(struct bootdbg_pagejournal *j, uint32_t first, uint32_t n) {
    if (mprotect(j->ram + (uint64_t)first * PAGE, (uint64_t)n * PAGE, PROT_READ | PROT_WRITE)
            != 0) {
        mprotect(j->ram, j->size, PROT_READ | PROT_WRITE);
        j->all_writable = 1;
        j->failed = 1;
    }
}

static void handler(int sig, siginfo_t *info, void *uctx) {
    uint8_t *a = (uint8_t *)info->si_addr;
    for (int i = 0; i < MAX_REGIONS; i++) {
        struct bootdbg_pagejournal *j = regions[i];
        if (j == NULL || a < j->ram || a >= j->ram + j->size)
            continue;
        uint32_t page = (uint32_t)((uint64_t)(a - j->ram) / PAGE);
        j->faults++;
        if (!j->is_unprot[page])
            open_page(j, page);
        unprotect(j, page, 1);
        return;
    }
    /* Not guest RAM: whoever handled SIGSEGV before us. */
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction != NULL) {
            previous.sa_sigaction(sig, info, uctx);
            return;
        }
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN
               && previous.sa_handler != NULL) {
        previous.sa_handler(sig);
        return;
    }
    if (info->si_code <= 0) {   /* sent (kill, tkill, sigqueue), not a fault: nothing re-raises it */
        if (previous.sa_handler == SIG_IGN && !(previous.sa_flags & SA_SIGINFO))
            return;             /* ignored, as it was before us */
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);         /* delivered when this handler returns: the default action */
        return;
    }
    signal(SIGSEGV, SIG_DFL);   /* the fault happens again and ends the process as it would */
}

static void *reserve(uint64_t bytes, int prot) {
    void *p = mmap(NULL, bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static uint64_t rounded(uint64_t n) { return (n + PAGE - 1) & ~(uint64_t)(PAGE - 1); }

void bootdbg_pagejournal_free(struct bootdbg_pagejournal *j);

struct bootdbg_pagejournal *bootdbg_pagejournal_new(uint64_t size, uint32_t cap) {
    if (size == 0 || size % PAGE || bootdbg_pagejournal_install() != 0)
        return NULL;
    struct bootdbg_pagejournal *j = calloc(1, sizeof *j);
    if (j == NULL)
        return NULL;
    j->size = size;
    j->npages = (uint32_t)(size / PAGE);
    j->cap = cap;
    j->all_writable = 1;
    j->ram = reserve(size, PROT_READ | PROT_WRITE);
    j->log_page = reserve(rounded((uint64_t)cap * 4), PROT_READ | PROT_WRITE);
    j->log_prev = reserve(rounded((uint64_t)cap * 4), PROT_READ | PROT_WRITE);
    j->last = reserve(rounded((uint64_t)j->npages * 4), PROT_READ | PROT_WRITE);
    j->unprot = reserve(rounded((uint64_t)j->npages * 4), PROT_READ | PROT_WRITE);
    j->is_unprot = reserve(rounded(j->npages), PROT_READ | PROT_WRITE);
    j->arena = reserve((uint64_t)cap * PAGE + COMMIT_STEP, PROT_NONE);
    if (!j->ram || !j->log_page || !j->log_prev || !j->last || !j->unprot || !j->is_unprot
            || !j->arena) {
        bootdbg_pagejournal_free(j);
        return NULL;
    }
    memset(j->last, 0xff, (uint64_t)j->npages * 4);
    for (int i = 0; i < MAX_REGIONS; i++) {
        if (regions[i] == NULL) {
            regions[i] = j;
            return j;
        }
    }
    bootdbg_pagejournal_free(j);
    return NULL;
}

void bootdbg_pagejournal_free(struct bootdbg_pagejournal *j) {
    if (j == NULL)
        return;
    for (int i = 0; i < MAX_REGIONS; i++)
        if (regions[i] == j)
            regions[i] = NULL;
    if (j->ram) munmap(j->ram, j->size);
    if (j->log_page) munmap(j->log_page, rounded((uint64_t)j->cap * 4));
    if (j->log_prev) munmap(j->log_prev, rounded((uint64_t)j->cap * 4));
    if (j->last) munmap(j->last, rounded((uint64_t)j->npages * 4));
    if (j->unprot) munmap(j->unprot, rounded((uint64_t)j->npages * 4));
    if (j->is_unprot) munmap(j->is_unprot, rounded(j->npages));
    if (j->arena) munmap(j->arena, (uint64_t)j->cap * PAGE + COMMIT_STEP);
    free(j);
}

/* Write-protect the pages written since the last mark (all of RAM the first time). */
static int protect_written(struct bootdbg_pagejournal *j) {
    if (j->all_writable) {
        if (mprotect(j->ram, j->size, PROT_READ) != 0)
            return -1;
        j->all_writable = 0;
    } else {
        uint32_t i = 0;
        while (i < j->nunprot) {      /* runs of consecutive pages in one call */
            uint32_t first = j->unprot[i], n = 1;
            while (i + n < j->nunprot && j->unprot[i + n] == first + n)
                n++;
            if (mprotect(j->ram + (uint64_t)first * PAGE, (uint64_t)n * PAGE, PROT_READ) != 0)
                return -1;
            i += n;
        }
    }
    for (uint32_t i = 0; i < j->nunprot; i++)
        j->is_unprot[j->unprot[i]] = 0;
    j->nunprot = 0;
    return 0;
}

/* A new mark: its position in the log (-1: out of room or mprotect failed). */
int64_t bootdbg_pagejournal_mark(struct bootdbg_pagejournal *j) {
    if (bootdbg_pagejournal_install() != 0 || j->failed)
        return -1;
    if ((uint64_t)j->len + j->npages > j->cap)
        return -1;
    if (protect_written(j) != 0)
        return -1;
    j->active = 1;
    return j->len;
}

/* Back to the mark at `pos`: RAM as it was then; the marks after it are gone. */
int bootdbg_pagejournal_rollback(struct bootdbg_pagejournal *j, uint32_t pos) {
    if (pos > j->len || j->failed)
        return -1;
    for (uint32_t i = j->len; i-- > pos;) {
        uint32_t page = j->log_page[i];
        uint8_t *dst = j->ram + (uint64_t)page * PAGE;
        if (!j->is_unprot[page]) {
            mprotect(dst, PAGE, PROT_READ | PROT_WRITE);
            j->is_unprot[page] = 1;
            j->unprot[j->nunprot++] = page;
        }
        memcpy(dst, j->arena + (uint64_t)i * PAGE, PAGE);
        j->last[page] = j->log_prev[i];
    }
    j->len = pos;
    /* (the pages restored are written again only after a fault saves them for this mark) */
    return protect_written(j);
}

/* No mark is live: forget the log (pages stay as they are; the next mark protects them). */
void bootdbg_pagejournal_clear(struct bootdbg_pagejournal *j) {
    for (uint32_t i = 0; i < j->len; i++)
        j->last[j->log_page[i]] = -1;
    j->len = 0;
    j->active = 0;
    j->failed = 0;
    /* Give back the memory of a big journal, beyond the first KEEP_RESIDENT bytes: a fast
     * slice ends with a clear, and giving all of it back made the next slice take a zero-fill
     * fault on each arena page again (memtest86+ saves ~16 MiB a slice). */
    if (j->committed > KEEP_RESIDENT)
        madvise(j->arena + KEEP_RESIDENT, j->committed - KEEP_RESIDENT, MADV_DONTNEED);
}

/* Drop the copies no live mark needs: an entry is redundant when the same page was already
 * saved since the live mark it follows.  `bounds`: the live marks' positions, ascending; they
 * are updated to the compacted log.  Returns the new length. */
uint32_t bootdbg_pagejournal_compact(struct bootdbg_pagejournal *j, uint32_t *bounds,
                                     uint32_t nb) {
    uint32_t out = 0, b = 0, epoch_start = 0;
    /* `last` is rebuilt: it holds, per page, its newest kept entry */
    for (uint32_t i = 0; i < j->len; i++)
        j->last[j->log_page[i]] = -1;
    for (uint32_t i = 0; i < j->len; i++) {
        while (b < nb && bounds[b] <= i) {
            bounds[b++] = out;
            epoch_start = out;
        }
        uint32_t page = j->log_page[i];
        int32_t prev = j->last[page];
        if ((nb == 0 || i < bounds[0]) && b == 0)
            continue;                         /* before the oldest live mark: never needed */
        if (prev >= 0 && (uint32_t)prev >= epoch_start)
            continue;                         /* saved already since this entry's mark */
        if (out != i) {
            memcpy(j->arena + (uint64_t)out * PAGE, j->arena + (uint64_t)i * PAGE, PAGE);
            j->log_page[out] = page;
        }
        j->log_prev[out] = prev;
        j->last[page] = (int32_t)out;
        out++;
    }
    while (b < nb)
        bounds[b++] = out;
    j->len = out;
    return out;
}

/* Native code is about to write RAM bytes [off, off + len): what the first store to each
 * protected page would do in the fault handler, done now for all of them (one mprotect over the
 * pages from the first to the last opened; those between were writable already).  A page
 * opened here and then not written costs a copy, nothing else: rolling back rewrites it with
 * the contents it still has. */
void bootdbg_pagejournal_prepare(struct bootdbg_pagejournal *j, uint64_t off, uint64_t len) {
    if (j->all_writable || len == 0 || off >= j->size)
        return;
    if (len > j->size - off)
        len = j->size - off;
    uint32_t first = (uint32_t)(off / PAGE), last = (uint32_t)((off + len - 1) / PAGE);
    uint32_t lo = UINT32_MAX, hi = 0;
    for (uint32_t p = first; p <= last; p++) {
        if (j->is_unprot[p])
            continue;
        open_page(j, p);
        j->prepared++;
        if (lo == UINT32_MAX)
            lo = p;
        hi = p;
    }
    if (lo != UINT32_MAX)
        unprotect(j, lo, hi - lo + 1);
}

int bootdbg_pagejournal_size(void) { return (int)sizeof(struct bootdbg_pagejournal); }

static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_pagejournal",
                                 "bootdbg page journal for RAM checkpoints (used through ctypes)",
                                 -1, NULL};
PyMODINIT_FUNC PyInit__pagejournal(void) { return PyModule_Create(&mod); }
