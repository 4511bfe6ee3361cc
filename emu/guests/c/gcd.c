/* gcd -- division by variables: for SCALE * 1000 pairs of LCG values
 * (a = rnd(), b = (rnd() & 0xffff) + 1), Euclid's gcd(a, b) by remainders,
 * a % b and the signed quotient (i32)a / (i32)(b | 1), rounded toward zero;
 * the checksum is their sum over every pair (mod 2**32).  x86 divides with
 * DIV and IDIV. */
#include "cguest.h"

#ifndef SCALE
#define SCALE 100
#endif
/* A32 has no divide instruction before ARMv7VE: libgcc divides in a loop, 7.5
 * times the instructions, so the A32 guest's default size is smaller */
#define A32_SCALE 14

static u32 gcd(u32 a, u32 b)
{
    while (b) {
        u32 t = a % b;
        a = b;
        b = t;
    }
    return a;
}

u32 guest_main(void)
{
    u32 h = 0;
    for (int i = 0; i < SCALE * 1000; i++) {
        u32 a = rnd(), b = (rnd() & 0xffff) + 1;
        h += gcd(a, b) + a % b + (u32)((i32)a / (i32)(b | 1));
    }
    return h;
}
