/* Monotonic time from the TSC.
 *
 * The TSC frequency is found lazily, on the first call of
 * unilang_monotonic_ns(), unilang_tsc_hz() or unilang_sleep_ns() (or of
 * time_init(), which an app may call to pay the cost up front), so that
 * boot itself does not wait: every CPUID/MSR access is a VM exit, and the
 * PIT fallback waits ~2.5 ms.  Sources, in this order (none waits but 3):
 *   1. CPUID 0x15 (TSC/crystal ratio with a known crystal frequency),
 *      else CPUID 0x16 EAX (processor base MHz, ~= TSC on Intel);
 *   2. hypervisor: Xen leaf base+3 subleaf 0 ECX = guest TSC kHz (only on
 *      real Xen; PVH has no PIT); generic leaf 0x40000010 EAX = TSC kHz
 *      (VMware style; QEMU exposes it only with vmware-cpuid-freq=on);
 *      KVM pvclock (tsc_to_system_mul/shift; KVM_FEATURE_CLOCKSOURCE2);
 *   3. the PIT for ~2.5 ms: channel 2 gated through port 0x61 when that port
 *      exists, else channel 0 read back by latching (QEMU microvm has a PIT
 *      but no port 0x61);
 *   4. UNILANG_PARAM_TSC_CLOCK_FALLBACK_HZ (tsc-clock.fallback_hz) if all of that fails.
 * unilang_monotonic_ns() counts from the boot entry (unilang_tsc_entry) and
 * never goes backwards.  unilang_sleep_ns() busy-waits on it.
 */
#include <unilang/runtime.h>
#include <unilang/tsc-clock.h>

/* UNILANG_PARAM_TSC_CLOCK_FALLBACK_HZ comes from unilang_params.h: its default
 * lives in tsc-clock.uni only, and a build without it does not compile. */

#define PIT_HZ 1193182ull
/* 2.5 ms (2,982 PIT ticks): the read-back error is a few microseconds, ~0.2%,
 * plenty for timeouts; it was 10 ms, a fifth of a network app's first answer
 * under TCG (bench/README.md, web server) */
#define PIT_LATCH (PIT_HZ / 400)
#define MIN_HZ 10000000ull       /* sanity range for a measured TSC */
#define MAX_HZ 50000000000ull

void time_init(void);

static uint64_t tsc_hz;
static uint64_t ns_mult; /* ns = ticks * ns_mult >> 32 */
static uint64_t last_ns;

static uint64_t hz_from_cpuid(void)
{
    uint32_t a, b, c, d;

    unilang_cpuid(0, 0, &a, &b, &c, &d);
    uint32_t max = a;
    if (max >= 0x15) {
        unilang_cpuid(0x15, 0, &a, &b, &c, &d);
        if (a != 0 && b != 0 && c != 0)
            return (uint64_t)c * b / a;
    }
    if (max >= 0x16) {
        unilang_cpuid(0x16, 0, &a, &b, &c, &d);
        if ((a & 0xffff) != 0)
            return (uint64_t)(a & 0xffff) * 1000000ull;
    }
    return 0;
}

/* KVM pvclock: enable MSR_KVM_SYSTEM_TIME_NEW on a static page, read
 * tsc_to_system_mul/tsc_shift, disable it again. */
struct pvclock_vcpu_time_info {
    uint32_t version;
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad[2];
};
static volatile struct pvclock_vcpu_time_info kvm_pvclock __attribute__((aligned(64)));

#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)

static uint64_t hz_from_kvmclock(void)
{
    uint32_t a, b, c, d;

    unilang_cpuid(0x40000001, 0, &a, &b, &c, &d);
    if (!(a & KVM_FEATURE_CLOCKSOURCE2))
        return 0;
    unilang_wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)&kvm_pvclock | 1u);
    uint32_t mul = 0;
    int8_t shift = 0;
    for (int tries = 0; tries < 100; ++tries) {
        uint32_t v = kvm_pvclock.version;
        __asm__ volatile("" ::: "memory");
        mul = kvm_pvclock.tsc_to_system_mul;
        shift = kvm_pvclock.tsc_shift;
        __asm__ volatile("" ::: "memory");
        if (!(v & 1) && v == kvm_pvclock.version && mul != 0)
            break;
        mul = 0;
    }
    unilang_wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0); /* stop updates */
    if (mul == 0)
        return 0;
    uint64_t hz = (1000000000ull << 32) / mul;
    return shift < 0 ? hz << -shift : hz >> shift;
}

/* Hypervisor leaves.  Only 0x40000000 and 0x40000100 are probed: every CPUID
 * is a VM exit (tens of microseconds under nested virtualisation). */
static uint64_t hz_from_hypervisor(void)
{
    uint32_t a, b, c, d;

    unilang_cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 31))) /* no hypervisor */
        return 0;
    for (uint32_t base = 0x40000000; base <= 0x40000100; base += 0x100) {
        unilang_cpuid(base, 0, &a, &b, &c, &d);
        uint32_t max = a;
        /* "XenVMMXenVMM" (only on real Xen): leaf 3 subleaf 0 ECX = TSC kHz */
        if (b == 0x566e6558 && c == 0x65584d4d && d == 0x4d4d566e) {
            if (max >= base + 3) {
                unilang_cpuid(base + 3, 0, &a, &b, &c, &d);
                if (c != 0)
                    return (uint64_t)c * 1000ull;
            }
            return 0;
        }
        if (base != 0x40000000)
            break;
        /* generic timing leaf (VMware/QEMU vmware-cpuid-freq=on) */
        if (max >= 0x40000010 && max < 0x40000100) {
            unilang_cpuid(0x40000010, 0, &a, &b, &c, &d);
            if (a != 0)
                return (uint64_t)a * 1000ull;
        }
        /* "KVMKVMKVM\0\0\0" */
        if (b == 0x4b4d564b && c == 0x564b4d56 && d == 0x4d && max >= 0x40000001) {
            uint64_t hz = hz_from_kvmclock();
            if (hz != 0)
                return hz;
        }
    }
    return 0;
}

static uint64_t check_hz(uint64_t hz)
{
    return (hz >= MIN_HZ && hz <= MAX_HZ) ? hz : 0;
}

/* PIT channel 2, gated through port 0x61 (PC speaker port; absent on
 * QEMU microvm, where it reads 0xff). */
static uint64_t hz_from_pit_ch2(void)
{
    uint8_t v = unilang_inb(0x61);

    if (v == 0xff)
        return 0;
    /* gate channel 2 on, speaker off; mode 0, lobyte/hibyte, binary */
    unilang_outb(0x61, (uint8_t)((v & ~0x02) | 0x01));
    unilang_outb(0x43, 0xb0);
    unilang_outb(0x42, PIT_LATCH & 0xff);
    unilang_outb(0x42, PIT_LATCH >> 8);
    uint64_t t0 = unilang_rdtsc();
    unsigned long polls = 0;
    while (!(unilang_inb(0x61) & 0x20)) {
        if (++polls > 10000000ul) /* no PIT after all */
            return 0;
    }
    uint64_t t1 = unilang_rdtsc();
    unilang_outb(0x61, v);
    if (polls < 10) /* OUT2 already high: not a working PIT */
        return 0;
    return check_hz((t1 - t0) * PIT_HZ / PIT_LATCH);
}

static uint16_t pit_ch0_read(void)
{
    unilang_outb(0x43, 0x00); /* latch channel 0 */
    uint8_t lo = unilang_inb(0x40);
    uint8_t hi = unilang_inb(0x40);
    return (uint16_t)(lo | hi << 8);
}

/* PIT channel 0 (gate always on) read back by latching: works without
 * port 0x61 (QEMU microvm).  Interrupts are off, so IRQ0 is never taken. */
static uint64_t hz_from_pit_ch0(void)
{
    unilang_outb(0x43, 0x30); /* channel 0, lobyte/hibyte, mode 0, binary */
    unilang_outb(0x40, 0xff);
    unilang_outb(0x40, 0xff);
    uint16_t c0 = pit_ch0_read();
    if (c0 == 0xffff && pit_ch0_read() == 0xffff && pit_ch0_read() == 0xffff)
        return 0; /* stuck: probably nothing there */
    uint64_t t0 = unilang_rdtsc(), t1;
    uint16_t c;
    unsigned long polls = 0;
    for (;;) {
        c = pit_ch0_read();
        t1 = unilang_rdtsc();
        if (c > c0 || ++polls > 10000000ul)
            return 0; /* wrapped or not counting */
        if ((uint16_t)(c0 - c) >= PIT_LATCH)
            break;
    }
    return check_hz((t1 - t0) * PIT_HZ / (uint16_t)(c0 - c));
}

void time_init(void)
{
    if (tsc_hz != 0)
        return;
    uint64_t hz = check_hz(hz_from_cpuid());

    if (hz == 0)
        hz = check_hz(hz_from_hypervisor());
    if (hz == 0)
        hz = hz_from_pit_ch2();
    if (hz == 0)
        hz = hz_from_pit_ch0();
    if (hz == 0)
        hz = UNILANG_PARAM_TSC_CLOCK_FALLBACK_HZ;
    tsc_hz = hz;
    ns_mult = (1000000000ull << 32) / hz; /* fits: 1e9 * 2^32 < 2^64 */
}

unsigned long long unilang_tsc_hz(void)
{
    if (tsc_hz == 0)
        time_init();
    return tsc_hz;
}

unsigned long long unilang_monotonic_ns(void)
{
    if (tsc_hz == 0)
        time_init();
    uint64_t t = unilang_rdtsc();
    uint64_t d = t > unilang_tsc_entry ? t - unilang_tsc_entry : 0;
    uint64_t ns = (uint64_t)(((unsigned __int128)d * ns_mult) >> 32);

    if (ns < last_ns)
        ns = last_ns;
    last_ns = ns;
    return ns;
}

/* Busy-waits until the monotonic clock has advanced by at least ns. */
void unilang_sleep_ns(unsigned long long ns)
{
    uint64_t start = unilang_monotonic_ns();
    uint64_t end = start + ns;

    if (end < start) /* overflow: the clock would need 584 years to get there */
        end = UINT64_MAX;
    while (unilang_monotonic_ns() < end)
        __asm__ volatile("pause");
}
