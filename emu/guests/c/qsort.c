/* qsort -- quicksort (Hoare partition, middle pivot, recursion on the
 * smaller side) of 1000 signed ints, SCALE times over fresh LCG data
 * (each value rnd() - 2**23); the checksum folds every sorted array
 * in order: h = h * 31 + a[i]. */
#include "cguest.h"

#ifndef SCALE
#define SCALE 60
#endif
#define N 1000

static i32 a[N];

static void sort(i32 *v, int lo, int hi)
{
    while (lo < hi) {
        i32 p = v[(lo + hi) >> 1];
        int i = lo, j = hi;
        while (i <= j) {
            while (v[i] < p)
                i++;
            while (v[j] > p)
                j--;
            if (i <= j) {
                i32 t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        if (j - lo < hi - i) {
            sort(v, lo, j);
            lo = i;
        } else {
            sort(v, i, hi);
            hi = j;
        }
    }
}

u32 guest_main(void)
{
    u32 h = 0;
    for (int pass = 0; pass < SCALE; pass++) {
        for (int i = 0; i < N; i++)
            a[i] = (i32)rnd() - 0x800000;
        sort(a, 0, N - 1);
        for (int i = 0; i < N; i++)
            h = h * 31 + (u32)a[i];
    }
    return h;
}
