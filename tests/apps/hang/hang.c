#include <unilang/runtime.h>

int main(void)
{
    unilang_puts("spinning forever");
    for (;;)
        __asm__ volatile("pause");
}
