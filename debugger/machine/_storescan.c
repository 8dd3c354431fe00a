/*
 * bootdbg: may a translation block change, before its last instruction, the descriptor a far
 * JMP/CALL ptr16:xx there names?  Compiled into `_blockcount` (its `judge` and `task_switch`);
 * the same decoder as `debugger/machine/storescan.py`, which explains it.
 */
#include <stddef.h>
#include <stdint.h>

static int is_prefix(uint8_t c) {
    return c == 0x26 || c == 0x2e || c == 0x36 || c == 0x3e || c == 0x64 || c == 0x65
           || c == 0x66 || c == 0x67 || c == 0xf0 || c == 0xf2 || c == 0xf3;
}

#define IMM_NONE 0
#define IMM_8 1
#define IMM_16 2
#define IMM_Z 3
#define IMM_PTR 4
#define IMM_MOFFS 5
#define IMM_ENTER 6
#define IMM_GRP3 7
#define IMM_UNKNOWN 15
#define OP_MODRM 0x10
#define OP_READS 0x20             /* a memory ModRM operand is only read */
#define OP_WRITES 0x40            /* stores (or I/O) without a ModRM memory operand */
#define OP_SREG 0x80              /* loads a segment register */
static uint8_t op_one[256], op_two[256];
static int op_tables_ready;

static void op_set(uint8_t *t, int from, int to, uint8_t v) {
    for (int op = from; op <= to; op++)
        t[op] = v;
}

static void op_tables(void) {
    static const uint8_t reads1[] = {0x02, 0x03, 0x0a, 0x0b, 0x12, 0x13, 0x1a, 0x1b, 0x22, 0x23,
                                     0x2a, 0x2b, 0x32, 0x33, 0x38, 0x39, 0x3a, 0x3b, 0x62, 0x69,
                                     0x6b, 0x84, 0x85, 0x8a, 0x8b, 0x8d, 0x8e, 0xc4, 0xc5};
    static const uint8_t reads2[] = {0x02, 0x03, 0xa3, 0xaf, 0xb6, 0xb7, 0xb8, 0xbc, 0xbd, 0xbe,
                                     0xbf};
    static const uint8_t writes1[] = {0x06, 0x0e, 0x16, 0x1e, 0x60, 0x68, 0x6a, 0x6c, 0x6d, 0x6e,
                                      0x6f, 0x9a, 0x9c, 0xa2, 0xa3, 0xa4, 0xa5, 0xaa, 0xab, 0xc8,
                                      0xcc, 0xcd, 0xce, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xec, 0xed,
                                      0xee, 0xef};
    static const uint8_t writes2[] = {0x00, 0x01, 0xa0, 0xa8};
    static const uint8_t modrm2[] = {0x00, 0x01, 0x02, 0x03, 0x0d, 0xa3, 0xa5, 0xab, 0xc3, 0xc7};
    static const uint8_t none2[] = {0x05, 0x06, 0x07, 0x08, 0x09, 0x0b, 0x0e, 0x77, 0xa0, 0xa1,
                                    0xa2, 0xa8, 0xa9, 0xaa};
    static const uint8_t imm2[] = {0x0f, 0x70, 0x71, 0x72, 0x73, 0xa4, 0xac, 0xba, 0xc2, 0xc4,
                                   0xc5, 0xc6};
    uint8_t *t = op_one;
    op_set(t, 0, 255, IMM_NONE);
    for (int x = 0; x < 8; x++) {
        op_set(t, x * 8, x * 8 + 3, OP_MODRM);
        t[x * 8 + 4] = IMM_8;
        t[x * 8 + 5] = IMM_Z;
    }
    t[0x0f] = IMM_UNKNOWN;
    t[0x62] = t[0x63] = OP_MODRM;
    t[0x68] = IMM_Z; t[0x69] = OP_MODRM | IMM_Z; t[0x6a] = IMM_8; t[0x6b] = OP_MODRM | IMM_8;
    op_set(t, 0x70, 0x7f, IMM_8);
    t[0x80] = OP_MODRM | IMM_8; t[0x81] = OP_MODRM | IMM_Z;
    t[0x82] = OP_MODRM | IMM_8; t[0x83] = OP_MODRM | IMM_8;
    op_set(t, 0x84, 0x8f, OP_MODRM);
    t[0x9a] = IMM_PTR;
    op_set(t, 0xa0, 0xa3, IMM_MOFFS);
    t[0xa8] = IMM_8; t[0xa9] = IMM_Z;
    op_set(t, 0xb0, 0xb7, IMM_8);
    op_set(t, 0xb8, 0xbf, IMM_Z);
    t[0xc0] = t[0xc1] = OP_MODRM | IMM_8;
    t[0xc2] = IMM_16;
    t[0xc4] = t[0xc5] = OP_MODRM;
    t[0xc6] = OP_MODRM | IMM_8; t[0xc7] = OP_MODRM | IMM_Z;
    t[0xc8] = IMM_ENTER; t[0xca] = IMM_16; t[0xcd] = IMM_8;
    op_set(t, 0xd0, 0xd3, OP_MODRM);
    t[0xd4] = t[0xd5] = IMM_8;
    op_set(t, 0xd8, 0xdf, OP_MODRM);
    op_set(t, 0xe0, 0xe7, IMM_8);
    t[0xe8] = t[0xe9] = IMM_Z;
    t[0xea] = IMM_PTR; t[0xeb] = IMM_8;
    t[0xf6] = t[0xf7] = OP_MODRM | IMM_GRP3;
    t[0xfe] = t[0xff] = OP_MODRM;
    for (size_t k = 0; k < sizeof reads1; k++)
        t[reads1[k]] |= OP_READS;
    for (size_t k = 0; k < sizeof writes1; k++)
        t[writes1[k]] |= OP_WRITES;
    op_set(t, 0x50, 0x57, IMM_NONE | OP_WRITES);
    t[0x07] |= OP_SREG; t[0x17] |= OP_SREG; t[0x1f] |= OP_SREG; t[0x8e] |= OP_SREG;
    t[0xc4] |= OP_SREG; t[0xc5] |= OP_SREG;
    t = op_two;
    op_set(t, 0, 255, IMM_UNKNOWN);
    for (size_t k = 0; k < sizeof modrm2; k++)
        t[modrm2[k]] = OP_MODRM;
    op_set(t, 0x10, 0x23, OP_MODRM);
    op_set(t, 0x28, 0x2f, OP_MODRM);
    op_set(t, 0x40, 0x7f, OP_MODRM);
    op_set(t, 0x90, 0x9f, OP_MODRM);
    op_set(t, 0xad, 0xc1, OP_MODRM);
    op_set(t, 0xd0, 0xff, OP_MODRM);
    for (size_t k = 0; k < sizeof none2; k++)
        t[none2[k]] = IMM_NONE;
    op_set(t, 0x30, 0x37, IMM_NONE);
    op_set(t, 0xc8, 0xcf, IMM_NONE);
    for (size_t k = 0; k < sizeof imm2; k++)
        t[imm2[k]] = OP_MODRM | IMM_8;
    op_set(t, 0x80, 0x8f, IMM_Z);
    op_set(t, 0x24, 0x27, IMM_UNKNOWN);
    for (size_t k = 0; k < sizeof reads2; k++)
        t[reads2[k]] |= OP_READS;
    op_set(t, 0x40, 0x4f, OP_MODRM | OP_READS);
    for (size_t k = 0; k < sizeof writes2; k++)
        t[writes2[k]] |= OP_WRITES;
    t[0xa1] |= OP_SREG; t[0xa9] |= OP_SREG; t[0xb2] |= OP_SREG; t[0xb4] |= OP_SREG;
    t[0xb5] |= OP_SREG;
    op_tables_ready = 1;
}

/* Bytes of the ModRM at p[i] with its SIB and displacement (-1: past the end). */
static int modrm_length(const uint8_t *p, uint32_t n, uint32_t i, int a32) {
    if (i >= n)
        return -1;
    uint32_t mod = p[i] >> 6, rm = p[i] & 7;
    if (mod == 3)
        return 1;
    if (!a32)
        return 1 + (mod == 1 ? 1 : (mod == 2 || rm == 6) ? 2 : 0);
    int len = 1;
    if (rm == 4) {
        if (i + 1 >= n)
            return -1;
        len++;
        if (mod == 0 && (p[i + 1] & 7) == 5)
            len += 4;
    }
    return len + (mod == 1 ? 1 : (mod == 2 || (mod == 0 && rm == 5)) ? 4 : 0);
}

#define STORES_MAX 4              /* stores to [disp] located in one block, at most */
#define EFF_NONE 0                /* no store */
#define EFF_ABS 1                 /* a store to [disp] only (segment, offset) */
#define EFF_ANY 2                 /* may store anywhere, I/O, a descriptor-table instruction */
#define EFF_SREG 3                /* a segment register load */

static uint32_t le(const uint8_t *p, int n) {
    uint32_t v = 0;
    for (int k = n - 1; k >= 0; k--)
        v = v << 8 | p[k];
    return v;
}

/* Length of the instruction at p[i] (-1: not decoded here); its effect, and for EFF_ABS the
 * store's segment register (0 ES .. 5 GS) and offset. */
static int decode(const uint8_t *p, uint32_t n, uint32_t i, int code32, int *effect, int *seg,
                  uint32_t *offset) {
    uint32_t j = i;
    int o32 = code32, a32 = code32;
    *effect = EFF_ANY;
    *seg = 3;
    *offset = 0;
    while (j < n && is_prefix(p[j]) && j - i < 14) {
        uint8_t c = p[j];
        if (c == 0x66)
            o32 = !code32;
        else if (c == 0x67)
            a32 = !code32;
        else if (c == 0x26 || c == 0x2e || c == 0x36 || c == 0x3e)
            *seg = (c >> 3) & 3;            /* ES CS SS DS */
        else if (c == 0x64 || c == 0x65)
            *seg = 4 + (c & 1);             /* FS GS */
        j++;
    }
    if (j >= n)
        return -1;
    uint32_t op = p[j++];
    int two = op == 0x0f;
    if (two) {
        if (j >= n)
            return -1;
        op = p[j++];
        if (op == 0x38 || op == 0x3a) {
            if (j >= n)
                return -1;
            j++;
            int m = modrm_length(p, n, j, a32);
            return m < 0 ? -1 : (int)(j + m + (op == 0x3a ? 1 : 0) - i);
        }
    }
    uint8_t e = (two ? op_two : op_one)[op];
    uint32_t imm = e & 15;
    if (imm == IMM_UNKNOWN)
        return -1;
    int eff = (e & OP_WRITES) ? EFF_ANY : EFF_NONE;
    if (e & OP_SREG)
        eff = EFF_SREG;
    if (e & OP_MODRM) {
        if (j >= n)
            return -1;
        uint8_t modrm = p[j];
        uint32_t reg = (modrm >> 3) & 7;
        if (!two && (op == 0xc4 || op == 0xc5) && (modrm >> 6) == 3)
            return -1;
        int m = modrm_length(p, n, j, a32);
        if (m < 0 || j + (uint32_t)m > n)
            return -1;
        if ((modrm >> 6) != 3 && eff == EFF_NONE) {
            int reads, other;
            if (two) {
                reads = (e & OP_READS) || (op == 0xba && reg == 4);
                other = op == 0xab || op == 0xae || op == 0xb3 || op == 0xbb
                        || (op == 0xc7 && reg != 1);
            } else {
                reads = (e & OP_READS) || (op >= 0x80 && op <= 0x83 && reg == 7)
                        || ((op == 0xf6 || op == 0xf7) && reg != 2 && reg != 3);
                other = op >= 0xd8 && op <= 0xdf;
            }
            if (!reads) {
                int abs = a32 ? (modrm & 0xc7) == 0x05 : (modrm & 0xc7) == 0x06;
                eff = (other || !abs) ? EFF_ANY : EFF_ABS;
                if (abs)
                    *offset = le(p + j + 1, a32 ? 4 : 2);
            }
        }
        if (!two && op == 0xff && (reg == 2 || reg == 3 || reg == 6))
            eff = EFF_ANY;
        j += (uint32_t)m;
        if (imm == IMM_GRP3)
            imm = reg <= 1 ? (op == 0xf6 ? IMM_8 : IMM_Z) : IMM_NONE;
    }
    static const int fixed[] = {0, 1, 2, -1, -1, -1, 3};
    int size = imm == IMM_Z ? (o32 ? 4 : 2) : imm == IMM_PTR ? (o32 ? 6 : 4)
               : imm == IMM_MOFFS ? (a32 ? 4 : 2) : fixed[imm];
    if (!two && (op == 0xa2 || op == 0xa3)) {       /* MOV [moffs], AL/eAX */
        eff = EFF_ABS;
        *offset = j + (uint32_t)size <= n ? le(p + j, size) : 0;
    }
    *effect = eff;
    return (int)(j + (uint32_t)size - i);
}

/* May an instruction of the block `p` (16- or 32-bit code) before its last one store to memory,
 * do port I/O or load a descriptor table?  1 too when the block does not decode here. */
int bootdbg_stores_before(const uint8_t *p, uint32_t n, int code32) {
    if (!op_tables_ready)
        op_tables();
    for (uint32_t i = 0;;) {
        int eff, seg;
        uint32_t off;
        int len = decode(p, n, i, code32, &eff, &seg, &off);
        if (len < 0 || i + (uint32_t)len > n)
            return 1;
        if (i + (uint32_t)len == n)
            return 0;
        if (eff == EFF_ABS || eff == EFF_ANY)
            return 1;
        i += (uint32_t)len;
    }
}

/* Where the block's last instruction begins, when the whole block decodes here (-1: it does
 * not).  (storescan.py's `last_insn`) */
int bootdbg_last_insn(const uint8_t *p, uint32_t n, int code32) {
    if (!op_tables_ready)
        op_tables();
    for (uint32_t i = 0;;) {
        int eff, seg;
        uint32_t off;
        int len = decode(p, n, i, code32, &eff, &seg, &off);
        if (len < 0 || i + (uint32_t)len > n)
            return -1;
        if (i + (uint32_t)len == n)
            return (int)i;
        i += (uint32_t)len;
    }
}

/* The stores to [disp] before the block's last instruction, when they are all it may store
 * (nothing else that may store, no port I/O or descriptor-table instruction, no segment load
 * before one, at most STORES_MAX): how many (their segments, 0 ES .. 5 GS, and offsets in
 * `seg` and `off`); -1 otherwise, or when the block does not decode here. */
int bootdbg_stores_abs(const uint8_t *p, uint32_t n, int code32, uint8_t *seg, uint32_t *off) {
    if (!op_tables_ready)
        op_tables();
    int loaded = 0, k = 0;
    for (uint32_t i = 0;;) {
        int eff, s;
        uint32_t o;
        int len = decode(p, n, i, code32, &eff, &s, &o);
        if (len < 0 || i + (uint32_t)len > n)
            return -1;
        if (i + (uint32_t)len == n)
            return k;
        if (eff == EFF_ANY)
            return -1;
        if (eff == EFF_SREG) {
            loaded = 1;
        } else if (eff == EFF_ABS) {
            if (loaded || k == STORES_MAX)
                return -1;
            seg[k] = (uint8_t)s;
            off[k++] = o;
        }
        i += (uint32_t)len;
    }
}

/* May one of those stores (16 bytes from where it begins, at most) reach the 8 bytes at
 * `linear`, the segment bases (ES..GS) being `bases`? */
int bootdbg_stores_reach(int k, const uint8_t *seg, const uint32_t *off, const uint64_t *bases,
                         uint64_t linear) {
    if (k < 0)
        return 1;
    for (int j = 0; j < k; j++) {
        uint64_t at = bases[seg[j]] + off[j];
        if (at + 16 > ((uint64_t)1 << 32) || (at < linear + 8 && linear < at + 16))
            return 1;
    }
    return 0;
}

/* May an instruction of the block before its last one change the 8 bytes at `linear`, the
 * segment bases (ES..GS) being `bases` as it begins?  (storescan.py's `stores_hit`) */
int bootdbg_stores_hit(const uint8_t *p, uint32_t n, int code32, const uint64_t *bases,
                       uint64_t linear) {
    uint8_t seg[STORES_MAX];
    uint32_t off[STORES_MAX];
    int k = bootdbg_stores_abs(p, n, code32, seg, off);
    return bootdbg_stores_reach(k, seg, off, bases, linear);
}
