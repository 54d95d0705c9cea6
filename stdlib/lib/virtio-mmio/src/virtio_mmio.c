/* The modern virtio-mmio transport (virtio 1.x, register layout version 2).
 * Register offsets from the virtio specification, section 4.2.2. */
#include <stdint.h>
#include <unilang/core.h>
#include <unilang/virtio-mmio.h>

#define MAGIC 0x74726976u /* "virt" */
#define R_MAGIC 0x000
#define R_VERSION 0x004
#define R_DEVICE_ID 0x008
#define R_DEV_FEATURES 0x010
#define R_DEV_FEATURES_SEL 0x014
#define R_DRV_FEATURES 0x020
#define R_DRV_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM_MAX 0x034
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_STATUS 0x070
#define R_QUEUE_DESC_LO 0x080
#define R_QUEUE_DESC_HI 0x084
#define R_QUEUE_DRIVER_LO 0x090
#define R_QUEUE_DRIVER_HI 0x094
#define R_QUEUE_DEVICE_LO 0x0a0
#define R_QUEUE_DEVICE_HI 0x0a4

#define S_ACKNOWLEDGE 1u
#define S_DRIVER 2u
#define S_DRIVER_OK 4u
#define S_FEATURES_OK 8u
#define S_FAILED 128u

/* QEMU 7.2 microvm: transports at 0xfeb00000 + n * 0x200, 24 with ACPI, 8 without. */
#define QEMU_WINDOW 0xfeb00000u
#define QEMU_STRIDE 0x200u
#define QEMU_SLOTS 24u
/* Anything the command line names must be MMIO below 4 GiB (identity mapped)
 * and not inside the image or low memory. */
#define MMIO_LOW 0xc0000000ull
#define MMIO_HIGH 0x100000000ull

static inline uint32_t rd(uintptr_t base, unsigned off)
{
    return *(volatile uint32_t *)(base + off);
}

static inline void wr(uintptr_t base, unsigned off, uint32_t v)
{
    *(volatile uint32_t *)(base + off) = v;
}

static int usable(uintptr_t base, uint32_t device_id)
{
    unilang_map_mmio(base, base + QEMU_STRIDE);
    return rd(base, R_MAGIC) == MAGIC && rd(base, R_VERSION) == 2 &&
           rd(base, R_DEVICE_ID) == device_id;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int hexval(char c)
{
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A number (decimal, or 0x hex), at most `max`; advances *p.  -1 on error. */
static int parse_num(const char **p, uint64_t max, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int base = 10, n = 0;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    for (;; s++, n++) {
        int d = base == 16 ? hexval(*s) : (is_digit(*s) ? *s - '0' : -1);
        if (d < 0) break;
        if (v > (max - (uint64_t)d) / (uint64_t)base) return -1;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (n == 0) return -1;
    *p = s;
    *out = v;
    return 0;
}

/* Parse `<size>[KMG]@<base>:<irq>[:<id>]` at p; the base, or 0 if malformed. */
static uintptr_t parse_entry(const char *p)
{
    uint64_t size, base, irq;
    if (parse_num(&p, 1ull << 32, &size) < 0) return 0;
    if (*p == 'K' || *p == 'k') { size <<= 10; p++; }
    else if (*p == 'M' || *p == 'm') { size <<= 20; p++; }
    else if (*p == 'G' || *p == 'g') return 0;
    if (*p++ != '@') return 0;
    if (parse_num(&p, MMIO_HIGH, &base) < 0) return 0;
    if (*p++ != ':') return 0;
    if (parse_num(&p, 1u << 16, &irq) < 0) return 0;
    if (size < 0x200 || base < MMIO_LOW || base + size > MMIO_HIGH || (base & 3)) return 0;
    return (uintptr_t)base;
}

uintptr_t virtio_mmio_find(uint32_t device_id, unsigned index)
{
    static const char key[] = "virtio_mmio.device=";
    const struct hvm_start_info *si = unilang_get_start_info();
    unsigned seen = 0, named = 0;
    if (si != 0 && si->cmdline_paddr != 0 && si->cmdline_paddr < MMIO_LOW) {
        const char *c = (const char *)(uintptr_t)si->cmdline_paddr;
        /* QEMU's PVH loader gives at most 4096 bytes, Firecracker 2048 */
        for (unsigned i = 0; i < 4096 && c[i] != 0; i++) {
            if (i > 0 && c[i - 1] != ' ') continue;
            unsigned k = 0;
            while (key[k] != 0 && i + k < 4096 && c[i + k] == key[k]) k++;
            if (key[k] != 0) continue;
            uintptr_t base = parse_entry(c + i + k);
            if (base == 0) continue;
            named++;
            if (usable(base, device_id) && seen++ == index) return base;
        }
    }
    if (named > 0) return 0; /* the command line is the device list when it has one */
    for (unsigned n = QEMU_SLOTS; n-- > 0;) { /* QEMU fills the highest slot first */
        uintptr_t base = QEMU_WINDOW + n * QEMU_STRIDE;
        if (usable(base, device_id) && seen++ == index) return base;
    }
    return 0;
}

int virtio_mmio_begin(uintptr_t base, uint64_t features)
{
    /* Firecracker accepts exactly 0 -> 1 -> 3 -> 11 -> 15, cumulatively. */
    wr(base, R_STATUS, 0);
    wr(base, R_STATUS, S_ACKNOWLEDGE);
    wr(base, R_STATUS, S_ACKNOWLEDGE | S_DRIVER);
    wr(base, R_DEV_FEATURES_SEL, 0);
    uint64_t offered = rd(base, R_DEV_FEATURES);
    wr(base, R_DEV_FEATURES_SEL, 1);
    offered |= (uint64_t)rd(base, R_DEV_FEATURES) << 32;
    if ((offered & features) != features || !(features & (1ull << 32))) {
        wr(base, R_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FAILED);
        return -1;
    }
    wr(base, R_DRV_FEATURES_SEL, 0);
    wr(base, R_DRV_FEATURES, (uint32_t)features);
    wr(base, R_DRV_FEATURES_SEL, 1);
    wr(base, R_DRV_FEATURES, (uint32_t)(features >> 32));
    wr(base, R_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK);
    if (!(rd(base, R_STATUS) & S_FEATURES_OK)) {
        wr(base, R_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FAILED);
        return -1;
    }
    return 0;
}

int virtio_mmio_queue(uintptr_t base, unsigned q, unsigned num, volatile struct virtq_desc *desc,
                      volatile void *avail, volatile void *used)
{
    wr(base, R_QUEUE_SEL, q);
    if (rd(base, R_QUEUE_READY) != 0) return -1;
    uint32_t max = rd(base, R_QUEUE_NUM_MAX);
    if (num == 0 || (num & (num - 1)) != 0 || max < num) return -1;
    wr(base, R_QUEUE_NUM, num);
    uint64_t d = (uintptr_t)desc, a = (uintptr_t)avail, u = (uintptr_t)used;
    wr(base, R_QUEUE_DESC_LO, (uint32_t)d);
    wr(base, R_QUEUE_DESC_HI, (uint32_t)(d >> 32));
    wr(base, R_QUEUE_DRIVER_LO, (uint32_t)a);
    wr(base, R_QUEUE_DRIVER_HI, (uint32_t)(a >> 32));
    wr(base, R_QUEUE_DEVICE_LO, (uint32_t)u);
    wr(base, R_QUEUE_DEVICE_HI, (uint32_t)(u >> 32));
    wr(base, R_QUEUE_READY, 1);
    return 0;
}

void virtio_mmio_ready(uintptr_t base)
{
    wr(base, R_STATUS, S_ACKNOWLEDGE | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

void virtio_mmio_notify(uintptr_t base, unsigned q)
{
    __asm__ volatile("mfence" ::: "memory");
    wr(base, R_QUEUE_NOTIFY, q);
}
