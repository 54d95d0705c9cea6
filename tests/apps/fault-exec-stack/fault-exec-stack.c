#include <stdint.h>
#include <unilang/runtime.h>

int main(void)
{
    unsigned char code[16] = {0xc3}; /* ret */
    void (*fn)(void) = (void (*)(void))(uintptr_t)code;

    __asm__ volatile("" : : "r"(code) : "memory"); /* the bytes are in memory */
    unilang_puts("fault-exec-stack: calling code on the stack");
    fn();
    unilang_puts("fault-exec-stack: NOT CAUGHT");
    return 0;
}
