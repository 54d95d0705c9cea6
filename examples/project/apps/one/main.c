#include <greeter.h>
#include "exit_code.h"

int main(void)
{
    greet("one");
    return EXIT_CODE;
}
