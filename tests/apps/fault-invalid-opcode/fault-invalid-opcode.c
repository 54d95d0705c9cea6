#include <unilang/runtime.h>

int main(void)
{
    unilang_puts("fault-invalid-opcode: executing ud2");
    __asm__ volatile("ud2");
    unilang_puts("fault-invalid-opcode: NOT CAUGHT");
    return 0;
}
