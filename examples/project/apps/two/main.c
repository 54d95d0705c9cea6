#include <greeter.h>

int main(void)
{
    greet("two");
    return 0;
}
