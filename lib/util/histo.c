/* SPDX-License-Identifier: ISC */
/* Latency histograms with fixed bounds, for /metrics and benchmarks. */
#include <stdint.h>

#include "util/histo.h"

const uint64_t iris__histo_bounds_us[IRIS_HISTO_BUCKETS - 1] = {
	100, 250, 500, 1000, 2000, 5000, 10000, 25000, 50000, 100000,
	250000, 1000000, 5000000, 30000000,
};

void
iris__histo_add(struct iris_histo *h, uint64_t us)
{
	unsigned b;

	for (b = 0; b < IRIS_HISTO_BUCKETS - 1 &&
	    us > iris__histo_bounds_us[b]; b++)
		;
	h->n[b]++;
	h->count++;
	h->sum_us += us;
}

uint64_t
iris__histo_quantile(const struct iris_histo *h, double q)
{
	uint64_t want, cum = 0;
	unsigned b;

	if (h->count == 0)
		return 0;
	want = (uint64_t)(q * (double)h->count);
	if (want == 0)
		want = 1;
	for (b = 0; b < IRIS_HISTO_BUCKETS; b++) {
		cum += h->n[b];
		if (cum >= want)
			return b < IRIS_HISTO_BUCKETS - 1 ?
			    iris__histo_bounds_us[b] : UINT64_MAX;
	}
	return UINT64_MAX;
}
