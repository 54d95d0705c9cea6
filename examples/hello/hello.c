#include <unilang/runtime.h>

int main(void)
{
    unilang_puts("Hello from unilang!");
    return 0;
}
