/* Random bytes from the CPU: RDRAND (the DRBG's output, the default) or
 * RDSEED (conditioned entropy, slower, fails more often under load), chosen
 * by the "rdrand" library's `source` parameter.
 *
 * Availability comes from CPUID: leaf 1 ECX bit 30 (RDRAND), leaf 7
 * subleaf 0 EBX bit 18 (RDSEED); it is probed once, on the first call.
 * Retries follow Intel's DRNG Software Implementation Guide: RDRAND is
 * retried up to 10 times per 64-bit word (a failure after that means the
 * DRNG is broken); RDSEED may legitimately run dry, so it is retried with
 * PAUSE up to 1000 times.  When the chosen instruction is missing the other
 * one is used; when both are missing the call prints one line to the
 * console and returns -1.
 */
#include <string.h>
#include <unilang/rdrand.h>
#include <unilang/runtime.h>

/* rdrand.source, enum(rdrand, rdseed), from unilang_params.h (its default
 * lives in rdrand.uni only): a build without it does not compile */
#define PREFER_RDSEED (UNILANG_PARAM_RDRAND_SOURCE == UNILANG_PARAM_RDRAND_SOURCE_RDSEED)

#define RDRAND_RETRIES 10
#define RDSEED_RETRIES 1000

enum { SRC_UNKNOWN, SRC_NONE, SRC_RDRAND, SRC_RDSEED };
static int source = SRC_UNKNOWN;

static int cpu_has_rdrand(void)
{
    uint32_t a, b, c, d;

    unilang_cpuid(1, 0, &a, &b, &c, &d);
    return (c >> 30) & 1;
}

static int cpu_has_rdseed(void)
{
    uint32_t a, b, c, d;

    unilang_cpuid(0, 0, &a, &b, &c, &d);
    if (a < 7)
        return 0;
    unilang_cpuid(7, 0, &a, &b, &c, &d);
    return (b >> 18) & 1;
}

static int pick_source(void)
{
    if (PREFER_RDSEED) {
        if (cpu_has_rdseed())
            return SRC_RDSEED;
        if (cpu_has_rdrand())
            return SRC_RDRAND;
    } else {
        if (cpu_has_rdrand())
            return SRC_RDRAND;
        if (cpu_has_rdseed())
            return SRC_RDSEED;
    }
    const char *msg = "rng: this CPU has neither RDRAND (CPUID.1:ECX[30]) nor RDSEED "
                      "(CPUID.7:EBX[18]); no random bytes\n";
    unilang_console_write(msg, strlen(msg));
    return SRC_NONE;
}

/* One 64-bit word; 1 on success. */
static int rand64(uint64_t *out)
{
    unsigned char ok;
    uint64_t v;

    if (source == SRC_RDRAND) {
        for (int i = 0; i < RDRAND_RETRIES; ++i) {
            __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok) : : "cc");
            if (ok) {
                *out = v;
                return 1;
            }
        }
    } else {
        for (int i = 0; i < RDSEED_RETRIES; ++i) {
            __asm__ volatile("rdseed %0; setc %1" : "=r"(v), "=qm"(ok) : : "cc");
            if (ok) {
                *out = v;
                return 1;
            }
            __asm__ volatile("pause");
        }
    }
    return 0;
}

int unilang_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;

    if (source == SRC_UNKNOWN)
        source = pick_source();
    if (source == SRC_NONE)
        return -1;
    while (n > 0) {
        uint64_t v;
        if (!rand64(&v)) {
            const char *msg = "rng: the CPU's random-number instruction keeps failing\n";
            unilang_console_write(msg, strlen(msg));
            return -1;
        }
        size_t k = n < sizeof(v) ? n : sizeof(v);
        memcpy(p, &v, k);
        p += k;
        n -= k;
    }
    return 0;
}
