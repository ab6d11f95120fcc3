/*
 * retry.h — how long to wait before trying a transient failure again
 * (internal).  Exponential backoff with full jitter: the wait is uniform
 * in [0, min(cap, base * 2^(attempt-1))], so retries from many workers do
 * not arrive together.  A server's Retry-After wins when it asks for
 * longer, clamped to the cap.  Pure functions; the caller keeps the
 * random state (one per worker), so they are thread-safe.
 */
#ifndef HD_RETRY_H
#define HD_RETRY_H

#include <stdint.h>

#define HD_RETRY_CAP 60.0 /* seconds */

/* attempt: number of the attempt that just failed (1-based); base in
 * seconds; retry_after < 0 when the server named no time; *rng: state. */
double hd_retry_delay(int attempt, double base, double retry_after,
		      uint64_t *rng);

/* A fresh random state seeded from the clock and seed. */
uint64_t hd_rng_seed(uint64_t seed);

/* Uniform in [0, 1). */
double hd_rng_uniform(uint64_t *rng);

#endif
