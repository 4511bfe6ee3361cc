static inline void outb(unsigned short port, unsigned char v)
{
    __asm__ volatile ("outb %0, %1" : : "a"(v), "Nd"(port));
}

static int fib(int n)
{
    if (n < 2)
        return n;
    return fib(n - 1) + fib(n - 2);
}

void main(void)
{
    int v = fib(10);
    outb(0x3f8, '0' + v / 10);
    outb(0x3f8, '0' + v % 10);
    outb(0x3f8, '\n');
}
