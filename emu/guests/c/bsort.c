/* bsort -- bubble sort (stop after a pass with no swap) of 250 signed
 * 16-bit values (rnd() as a 16-bit value), SCALE times over fresh LCG
 * data; the checksum folds every sorted array: h = (h << 3) + h + a[i]
 * (a[i] sign-extended to 32 bits). */
#include "cguest.h"

#ifndef SCALE
#define SCALE 37
#endif
#define N 250

static i16 a[N];

u32 guest_main(void)
{
    u32 h = 0;
    for (int pass = 0; pass < SCALE; pass++) {
        for (int i = 0; i < N; i++)
            a[i] = (i16)rnd();
        for (int n = N; n > 1; n--) {
            int swapped = 0;
            for (int i = 1; i < n; i++)
                if (a[i - 1] > a[i]) {
                    i16 t = a[i];
                    a[i] = a[i - 1];
                    a[i - 1] = t;
                    swapped = 1;
                }
            if (!swapped)
                break;
        }
        for (int i = 0; i < N; i++)
            h = (h << 3) + h + (u32)(i32)a[i];
    }
    return h;
}
