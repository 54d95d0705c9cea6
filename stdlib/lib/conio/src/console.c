/* conio: portable helpers on top of the backend's console_write. */
#include <unilang/conio.h>
#include <unilang/runtime.h>

void unilang_puts(const char *s)
{
    unsigned long n = 0;

    while (s[n] != '\0')
        ++n;
    unilang_console_write(s, n);
    unilang_console_write("\n", 1);
}
