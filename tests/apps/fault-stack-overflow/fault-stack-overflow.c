#include <unilang/runtime.h>

volatile unsigned limit = 1u << 30; /* never reached: the stack is 16 KiB */
volatile unsigned depth;

__attribute__((noinline)) static unsigned recurse(unsigned n)
{
    volatile char frame[256];

    frame[0] = (char)n;
    depth = n;
    if (n >= limit)
        return 0;
    return recurse(n + 1) + (unsigned)frame[0];
}

int main(void)
{
    unilang_puts("fault-stack-overflow: recursing");
    unsigned r = recurse(0);
    unilang_puts("fault-stack-overflow: NOT CAUGHT");
    return (int)(r & 1);
}
