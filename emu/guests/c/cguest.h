/* cguest.h -- what every C bench guest shares: fixed-width types, the LCG
 * that makes its data (x = x * 1103515245 + 12345 mod 2**32, from x = 1,
 * the value's top 24 bits used) and the entry point.  Each guest defines
 * `u32 guest_main(void)`, which the start code (x86_start.S, a32_start.S)
 * calls and whose result it prints in hex before the guest stops.  Each
 * guest sets its size with one line `#define SCALE N` (emu.bench rebuilds
 * it with -DSCALE=M for another size). */
#ifndef CGUEST_H
#define CGUEST_H

typedef unsigned int u32;
typedef int i32;
typedef unsigned short u16;
typedef short i16;
typedef unsigned char u8;
typedef signed char i8;

u32 guest_main(void);

static u32 lcg_x = 1;

static inline u32 rnd(void)
{
    lcg_x = lcg_x * 1103515245u + 12345u;
    return lcg_x >> 8;
}

#endif
