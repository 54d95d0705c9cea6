#include <stdint.h>
#include <stdlib.h>
#include <unilang/runtime.h>

int main(void)
{
    unsigned char *code = calloc(1, 16); /* calloc: keeps the string library in use */

    if (code == NULL)
        return 1;
    code[0] = 0xc3; /* ret */
    __asm__ volatile("" : : "r"(code) : "memory");
    unilang_puts("fault-exec-heap: calling code on the heap");
    ((void (*)(void))(uintptr_t)code)();
    unilang_puts("fault-exec-heap: NOT CAUGHT");
    return 0;
}
