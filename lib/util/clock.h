/* SPDX-License-Identifier: ISC */
/*
 * Clocks. Modules that read time take a clock function so that tests can
 * inject one; these are the real ones.
 */
#ifndef IRIS_UTIL_CLOCK_H
#define IRIS_UTIL_CLOCK_H

#include <stdint.h>

/* Wall clock in ms since the epoch (0 if unavailable); arg unused. */
uint64_t	 iris__clock_realtime_ms(void *arg);
/* Monotonic clock in µs, for rates and deadlines. */
uint64_t	 iris__clock_mono_us(void);
/* Wall clock in µs, for latencies measured across processes. */
uint64_t	 iris__clock_realtime_us(void);

#endif /* IRIS_UTIL_CLOCK_H */
