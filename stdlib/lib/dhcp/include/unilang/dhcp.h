/* Library dhcp: a DHCP client run once at init (stdlib/lib/dhcp). */
#ifndef UNILANG_DHCP_H
#define UNILANG_DHCP_H

#include <stdint.h>

struct unilang_dhcp_stats {
    uint64_t tx;              /* DISCOVERs and REQUESTs sent */
    uint64_t rx;              /* UDP datagrams seen during the exchange */
    uint64_t drop_udp;        /* bad UDP header: short, length, checksum */
    uint64_t drop_foreign;    /* not 67->68, not a BOOTREPLY, other xid, MAC or server */
    uint64_t drop_malformed;  /* options out of bounds or of a wrong length, bad addresses */
    uint64_t drop_unexpected; /* a message type the state does not expect */
    uint64_t nak;             /* DHCPNAKs from the chosen server (the attempt restarts) */
    uint64_t timeouts;        /* attempts that ran out of time */
    uint32_t lease_s;         /* option 51 of the ACK; 0 without a lease */
    int leased;               /* 1 when the address came from the server, 0 on fallback */
};

extern struct unilang_dhcp_stats unilang_dhcp_stats;

#endif /* UNILANG_DHCP_H */
