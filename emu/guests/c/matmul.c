/* matmul -- 16x16 signed int matrix multiply C = A * B, SCALE times: B is
 * LCG data in -8..7 (rnd() & 15, less 8), A starts so too and becomes
 * (C & 0xff) - 128 after each product; the checksum folds every C in row
 * order: h = (h * 33) ^ C[i][j]. */
#include "cguest.h"

#ifndef SCALE
#define SCALE 270
#endif
#define N 16

static i32 A[N][N], B[N][N], C[N][N];

u32 guest_main(void)
{
    u32 h = 5381;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            A[i][j] = (i32)(rnd() & 15) - 8;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            B[i][j] = (i32)(rnd() & 15) - 8;
    for (int pass = 0; pass < SCALE; pass++) {
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                i32 s = 0;
                for (int k = 0; k < N; k++)
                    s += A[i][k] * B[k][j];
                C[i][j] = s;
            }
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) {
                h = (h * 33) ^ (u32)C[i][j];
                A[i][j] = (C[i][j] & 0xff) - 128;
            }
    }
    return h;
}
