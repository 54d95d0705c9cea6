#include <stdint.h>
#include <unilang/runtime.h>

int main(void)
{
    volatile unsigned char *p = (volatile unsigned char *)(uintptr_t)&main;

    unilang_puts("fault-write-text: writing to the code of main");
    *p = 0xc3;
    unilang_puts("fault-write-text: NOT CAUGHT");
    return 0;
}
