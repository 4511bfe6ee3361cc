/* lib.c -- what gcc may call in freestanding code (it emits memset and
 * memcpy for loops that fill or copy) for the C bench guests. */
#include "cguest.h"

void *memset(void *d, int c, unsigned long n)
{
    u8 *p = d;
    while (n--)
        *p++ = (u8)c;
    return d;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
    u8 *p = d;
    const u8 *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}
