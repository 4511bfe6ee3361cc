/* hash -- FNV-1a and djb2 of a 4096-byte buffer of LCG bytes (rnd() &
 * 0xff), SCALE times: after each pass byte (pass * 61) % 4096 becomes the
 * low byte of FNV ^ djb2; the checksum is the last pass's FNV-1a plus
 * three times the sum of every pass's djb2. */
#include "cguest.h"

#ifndef SCALE
#define SCALE 240
#endif
#define N 4096

static u8 buf[N];

u32 guest_main(void)
{
    u32 fnv = 0, sum = 0;
    for (int i = 0; i < N; i++)
        buf[i] = (u8)rnd();
    for (int pass = 0; pass < SCALE; pass++) {
        u32 d = 5381;
        fnv = 2166136261u;
        for (int i = 0; i < N; i++) {
            fnv = (fnv ^ buf[i]) * 16777619u;
            d = d * 33 + buf[i];
        }
        sum += d;
        buf[(pass * 61) % N] = (u8)(fnv ^ d);
    }
    return fnv + 3 * sum;
}
