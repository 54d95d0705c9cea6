#include <stdint.h>
#include <unilang/runtime.h>

volatile uintptr_t null_address = 0; /* opaque to the optimiser */

int main(void)
{
    unilang_puts("fault-read-page0: reading address 0");
    int v = *(volatile int *)null_address;
    unilang_puts("fault-read-page0: NOT CAUGHT");
    return v & 1;
}
