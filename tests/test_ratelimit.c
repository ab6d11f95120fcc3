/* test_ratelimit.c — the shared pacer, AIMD, and retry backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelimit.h"
#include "retry.h"

#include <pthread.h>

struct shared {
	hd_ratelimit *rl;
	int n;
};

static void *taker(void *arg)
{
	struct shared *s = arg;

	for (int i = 0; i < s->n; i++)
		hd_ratelimit_acquire(s->rl, NULL);
	return NULL;
}

/* 4 threads taking 40 starts at 100/s need about 0.4 s, never less. */
static void pacer_holds_the_rate_across_threads(void **state)
{
	struct shared s = {hd_ratelimit_new(100), 10};
	pthread_t t[4];
	double t0 = hd_monotonic(), took;

	(void)state;
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, taker, &s);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	took = hd_monotonic() - t0;
	/* the first start is immediate: 39 gaps of 10 ms */
	assert_true(took >= 0.38);
	assert_true(took < 2.0);
	hd_ratelimit_free(s.rl);
}

static void slow_down_halves_and_success_climbs_back(void **state)
{
	hd_ratelimit *rl = hd_ratelimit_new(50);

	(void)state;
	assert_true(hd_ratelimit_rate(rl) == 50);
	hd_ratelimit_slow_down(rl, -1);
	assert_true(hd_ratelimit_rate(rl) == 25);
	hd_ratelimit_slow_down(rl, -1);
	assert_true(hd_ratelimit_rate(rl) == 12.5);
	hd_ratelimit_success(rl);
	assert_true(hd_ratelimit_rate(rl) == 13.5); /* + 2% of 50 */
	for (int i = 0; i < 100; i++)
		hd_ratelimit_success(rl);
	assert_true(hd_ratelimit_rate(rl) == 50); /* never above --rate */
	hd_ratelimit_free(rl);
}

static void retry_after_pauses_everyone(void **state)
{
	hd_ratelimit *rl = hd_ratelimit_new(0);
	double t0;

	(void)state;
	assert_true(hd_ratelimit_rate(rl) == 0); /* open */
	hd_ratelimit_slow_down(rl, 0.3);
	assert_true(hd_ratelimit_rate(rl) > 0); /* limited now */
	t0 = hd_monotonic();
	hd_ratelimit_acquire(rl, NULL);
	assert_true(hd_monotonic() - t0 >= 0.28);
	hd_ratelimit_free(rl);
}

static void acquire_gives_up_on_abort(void **state)
{
	hd_ratelimit *rl = hd_ratelimit_new(0.2); /* one start per 5 s */
	atomic_int abort_flag;

	(void)state;
	atomic_init(&abort_flag, 0);
	assert_int_equal(hd_ratelimit_acquire(rl, &abort_flag), HD_OK);
	atomic_store(&abort_flag, 1);
	assert_int_equal(hd_ratelimit_acquire(rl, &abort_flag),
			 HD_EINTERRUPTED);
	hd_ratelimit_free(rl);
}

static void backoff_is_full_jitter_with_a_cap(void **state)
{
	uint64_t rng = hd_rng_seed(7);
	double max1 = 0, max3 = 0, min3 = 1e9;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		double a = hd_retry_delay(1, 1.0, -1, &rng);
		double c = hd_retry_delay(3, 1.0, -1, &rng);
		assert_true(a >= 0 && a < 1.0);
		assert_true(c >= 0 && c < 4.0);
		if (a > max1)
			max1 = a;
		if (c > max3)
			max3 = c;
		if (c < min3)
			min3 = c;
		assert_true(hd_retry_delay(30, 1.0, -1, &rng) <= HD_RETRY_CAP);
	}
	assert_true(max1 > 0.9); /* spread over the range */
	assert_true(max3 > 3.5 && min3 < 0.5);
	/* a server's Retry-After wins when longer, clamped to the cap */
	assert_true(hd_retry_delay(1, 1.0, 7.0, &rng) == 7.0);
	assert_true(hd_retry_delay(1, 1.0, 1e6, &rng) == HD_RETRY_CAP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pacer_holds_the_rate_across_threads),
	    cmocka_unit_test(slow_down_halves_and_success_climbs_back),
	    cmocka_unit_test(retry_after_pauses_everyone),
	    cmocka_unit_test(acquire_gives_up_on_abort),
	    cmocka_unit_test(backoff_is_full_jitter_with_a_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
