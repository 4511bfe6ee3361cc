/* A C program on newlib's semihosting library (--specs=rdimon.specs): it
 * reads a name with fgets and numbers with scanf from the console, prints
 * with printf, and returns an exit status -- the sum of the numbers, modulo
 * 256 -- which semihosting SYS_EXIT_EXTENDED carries to the host.
 *
 * Input: a name on the first line, then a count n and n integers.
 * Output: "name? " and one line per number, then a summary line.
 * Python: see expected_calc() in tests/differential/test_arm_qemu.py. */
#include <stdio.h>
#include <string.h>

static unsigned fib(unsigned k)
{
    return k < 2 ? k : fib(k - 1) + fib(k - 2);
}

int main(void)
{
    char name[64];
    int n, x, sum = 0, largest = 0;

    printf("name? ");
    fflush(stdout);
    if (!fgets(name, sizeof name, stdin))
        return 2;
    name[strcspn(name, "\n")] = '\0';
    if (scanf("%d", &n) != 1 || n < 0)
        return 3;
    for (int i = 0; i < n; i++) {
        if (scanf("%d", &x) != 1)
            return 4;
        printf("%2d: %6d  0x%08x\n", i, x, (unsigned)x);
        sum += x;
        if (i == 0 || x > largest)
            largest = x;
    }
    printf("hello, %s: %d numbers, sum %d, largest %d, fib(%d) = %u\n",
           name, n, sum, largest, n + 10, fib(n + 10));
    return sum & 0xff;
}
