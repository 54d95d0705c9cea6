/* Host driver for stdlib/lib/ipv4/src/netpolicy.c, linked with a table that
 * unilang generated (unilang.emit.netpolicy).  Reads queries on stdin:
 *   L PROTO PORT   -> "L PROTO PORT 0|1"  (unilang_policy_may_listen)
 *   P ADDR         -> "P ADDR 0|1"        (unilang_policy_peer_allowed; ADDR as a number)
 *   S              -> "S 0|1"             (unilang_policy_may_send) */
#include <stdio.h>
#include <unilang/netpolicy.h>

int main(void)
{
    char op;
    while (scanf(" %c", &op) == 1) {
        if (op == 'L') {
            unsigned proto, port;
            if (scanf("%u %u", &proto, &port) != 2) return 2;
            printf("L %u %u %d\n", proto, port,
                   unilang_policy_may_listen((uint8_t)proto, (uint16_t)port));
        } else if (op == 'P') {
            unsigned long addr;
            if (scanf("%lu", &addr) != 1) return 2;
            printf("P %lu %d\n", addr, unilang_policy_peer_allowed((uint32_t)addr));
        } else if (op == 'S') {
            printf("S %d\n", unilang_policy_may_send());
        } else {
            return 2;
        }
    }
    return 0;
}
