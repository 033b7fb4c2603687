/* SPDX-License-Identifier: ISC */
/* Latency histograms with fixed bounds, for /metrics and benchmarks. */
#ifndef IRIS_UTIL_HISTO_H
#define IRIS_UTIL_HISTO_H

#include <stdint.h>

/* Upper bounds in µs of the buckets; the last bucket is +Inf. */
#define IRIS_HISTO_BUCKETS	15
extern const uint64_t iris__histo_bounds_us[IRIS_HISTO_BUCKETS - 1];

struct iris_histo {
	uint64_t	 n[IRIS_HISTO_BUCKETS];
	uint64_t	 count;
	uint64_t	 sum_us;
};

void	 iris__histo_add(struct iris_histo *h, uint64_t us);
/* The upper bound (µs) of the bucket holding quantile q (0..1); 0 when
 * empty, UINT64_MAX when it falls in the +Inf bucket. */
uint64_t iris__histo_quantile(const struct iris_histo *h, double q);

#endif /* IRIS_UTIL_HISTO_H */
