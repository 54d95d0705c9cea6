#include <unilang/runtime.h>

int main(void)
{
    unilang_puts("returning 200");
    return 200;
}
