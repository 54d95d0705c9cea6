/* sealed: nothing here loads or generates code; the policy checks that no
 * library the app reaches does either. */
#include <stdio.h>

int main(void)
{
    printf("sealed: running under the %s policy, no code loaded at run time\n", "sealed");
    return 0;
}
