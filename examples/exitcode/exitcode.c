#include <unilang/runtime.h>

int main(void)
{
    unilang_puts("exiting with code 3");
    return 3;
}
