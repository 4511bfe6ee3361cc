/* itoa -- decimal formatting: SCALE * 1000 signed values (the LCG's whole
 * 32-bit state each step, as a signed int) written as decimal strings
 * ('-' before a negative one) by division by 10; the checksum folds every
 * character of every string: h = h * 31 + c, and the total length. */
#include "cguest.h"

#ifndef SCALE
#define SCALE 30
#endif

static char text[16];

static int format(i32 v, char *out)
{
    char tmp[12];
    int n = 0, len = 0;
    u32 u = v < 0 ? 0u - (u32)v : (u32)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = tmp[--n];
    return len;
}

u32 guest_main(void)
{
    u32 h = 0, total = 0;
    for (int i = 0; i < SCALE * 1000; i++) {
        rnd();
        int len = format((i32)lcg_x, text);
        for (int k = 0; k < len; k++)
            h = h * 31 + (u8)text[k];
        total += len;
    }
    return h ^ total;
}
