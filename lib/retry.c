/* retry.c — exponential backoff with full jitter. */
#include "retry.h"

#include <time.h>

uint64_t hd_rng_seed(uint64_t seed)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return seed * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_nsec ^
	       ((uint64_t)ts.tv_sec << 32) ^ 0x2545f4914f6cdd1dULL;
}

double hd_rng_uniform(uint64_t *rng)
{
	/* xorshift64*: small, fast, good enough for jitter */
	uint64_t x = *rng ? *rng : 0x9e3779b97f4a7c15ULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*rng = x;
	return (double)((x * 0x2545f4914f6cdd1dULL) >> 11) / 9007199254740992.0;
}

double hd_retry_delay(int attempt, double base, double retry_after,
		      uint64_t *rng)
{
	double ceil = base;
	double d;

	for (int i = 1; i < attempt && ceil < HD_RETRY_CAP; i++)
		ceil *= 2;
	if (ceil > HD_RETRY_CAP)
		ceil = HD_RETRY_CAP;
	d = hd_rng_uniform(rng) * ceil;
	if (retry_after > d)
		d = retry_after > HD_RETRY_CAP ? HD_RETRY_CAP : retry_after;
	return d;
}
