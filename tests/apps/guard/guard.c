#include <stdlib.h>
#include <unilang/runtime.h>

int main(void)
{
    char *ok = malloc(24), *p = malloc(24);

    free(ok); /* intact: no report */
    unilang_puts("guard: overflowing a block by one byte");
    p[24] = 'X';
    free(p); /* the guard reports and shuts down */
    unilang_puts("guard: NOT CAUGHT");
    return 0;
}
