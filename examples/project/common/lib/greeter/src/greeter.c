#include <unilang/runtime.h>
#include <greeter.h>

void greet(const char *who)
{
    char line[80] = "Hello from ";
    unsigned n = 11;
    while (*who && n < sizeof line - 2)
        line[n++] = *who++;
    line[n++] = '!';
    line[n] = '\0';
    unilang_puts(line);
}
