/* Library tsc-clock: monotonic time (stdlib/lib/tsc-clock, src/tsc.c). */
#ifndef UNILANG_TSC_CLOCK_H
#define UNILANG_TSC_CLOCK_H

/* Nanoseconds since the boot entry; never goes backwards.  The first call
 * calibrates the TSC (see tsc.c). */
unsigned long long unilang_monotonic_ns(void);
/* TSC ticks per second (calibrating on first use). */
unsigned long long unilang_tsc_hz(void);
/* Busy-waits until unilang_monotonic_ns() has advanced by at least ns. */
void unilang_sleep_ns(unsigned long long ns);
/* Calibrates now rather than at the first call (optional). */
void time_init(void);

#endif /* UNILANG_TSC_CLOCK_H */
