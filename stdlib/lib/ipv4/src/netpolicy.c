/* The run-time network policy: lookups in the generated read-only table. */
#include <stdint.h>
#include <unilang/netpolicy.h>

int unilang_policy_may_listen(uint8_t ipproto, uint16_t port)
{
    const struct unilang_netpolicy *p = &unilang_netpolicy;
    if (!p->restrict_listen) return 1;
    for (unsigned i = 0; i < p->nlisten; i++)
        if (p->listen[i].ipproto == ipproto && p->listen[i].low <= port && port <= p->listen[i].high)
            return 1;
    return 0;
}

int unilang_policy_peer_allowed(uint32_t addr)
{
    const struct unilang_netpolicy *p = &unilang_netpolicy;
    if (!p->restrict_peers) return 1;
    for (unsigned i = 0; i < p->npeers; i++)
        if ((addr & p->peers[i].mask) == p->peers[i].addr) return 1;
    return 0;
}

int unilang_policy_may_send(void)
{
    return unilang_netpolicy.may_send != 0;
}
