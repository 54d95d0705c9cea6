/* http: serve the sealed www/ folder (see http.uni); the http library does
 * the work, this only says it is up. */
#include <unilang/conio.h>
#include <unilang/http.h>
#include <unilang/netlink.h>

int main(void)
{
    if (!unilang_link_up()) {
        unilang_puts("http: no network device");
        return 1;
    }
    if (unilang_http_start() < 0) {
        unilang_puts("http: cannot listen on the port");
        return 1;
    }
    unilang_puts("http: serving www/");
    for (;;)
        unilang_http_poll();
}
