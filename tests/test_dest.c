/*
 * test_dest.c — the destination table: limits, the fair share, pauses and
 * their probes, per-destination pacing, bounded memory.
 */
#include "dest.h"

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

static void test_limit(void **state)
{
	hd__dests_config cfg = {2, 0, 0};
	hd__dests *t = hd__dests_new(&cfg);
	hd__dest *a = hd__dests_get(t, "a:443"), *b = hd__dests_get(t, "b:443");
	char why[256];

	(void)state;
	assert_int_equal(hd__dest_begin(t, a, 1, why, sizeof(why)),
			 HD__DEST_GO);
	assert_int_equal(hd__dest_begin(t, a, 1, why, sizeof(why)),
			 HD__DEST_GO);
	assert_int_equal(hd__dest_begin(t, a, 1, why, sizeof(why)),
			 HD__DEST_WAIT);
	/* the other destination is not held up */
	assert_int_equal(hd__dest_begin(t, b, 1, why, sizeof(why)),
			 HD__DEST_GO);
	hd__dest_end(t, a, HD__DEST_OK, NULL, 2);
	assert_int_equal(hd__dest_begin(t, a, 2, why, sizeof(why)),
			 HD__DEST_GO);
	hd__dests_put(t, a);
	hd__dests_put(t, b);
	hd__dests_free(t);
}

/* No fixed limit: a share applies only once there are several. */
static void test_fair_share(void **state)
{
	hd__dests_config cfg = {0, 2, 0};
	hd__dests *t = hd__dests_new(&cfg);
	hd__dest *a = hd__dests_get(t, "a:443"), *b;
	char why[256];

	(void)state;
	for (int i = 0; i < 10; i++)
		assert_int_equal(hd__dest_begin(t, a, 1, why, sizeof(why)),
				 HD__DEST_GO);
	assert_int_equal(hd__dests_several(t), 0);
	b = hd__dests_get(t, "b:443");
	assert_int_equal(hd__dests_several(t), 1);
	assert_int_equal(hd__dest_begin(t, a, 1, why, sizeof(why)),
			 HD__DEST_WAIT);
	assert_int_equal(hd__dest_begin(t, b, 1, why, sizeof(why)),
			 HD__DEST_GO);
	hd__dests_put(t, a);
	hd__dests_put(t, b);
	hd__dests_free(t);
}

static void test_pause_and_probe(void **state)
{
	hd__dests_config cfg = {0, 0, 0};
	hd__dests *t = hd__dests_new(&cfg);
	hd__dest *a = hd__dests_get(t, "slow.example:443");
	hd__dest *b = hd__dests_get(t, "other.example:443");
	char why[256];

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(hd__dest_begin(t, a, 100, why, sizeof(why)),
				 HD__DEST_GO);
		hd__dest_end(t, a, HD__DEST_TROUBLE, "timed out", 100);
	}
	assert_int_equal(hd__dest_begin(t, a, 105, why, sizeof(why)),
			 HD__DEST_PAUSED);
	assert_non_null(strstr(why, "slow.example:443 paused for 5 s more"));
	assert_non_null(strstr(why, "the last: timed out"));
	/* after 10 s: one probe at a time */
	assert_int_equal(hd__dest_begin(t, a, 111, why, sizeof(why)),
			 HD__DEST_GO);
	assert_int_equal(hd__dest_begin(t, a, 111, why, sizeof(why)),
			 HD__DEST_WAIT);
	/* the probe fails: paused again, twice as long */
	hd__dest_end(t, a, HD__DEST_TROUBLE, "timed out again", 112);
	assert_int_equal(hd__dest_begin(t, a, 131, why, sizeof(why)),
			 HD__DEST_PAUSED);
	assert_int_equal(hd__dest_begin(t, a, 133, why, sizeof(why)),
			 HD__DEST_GO);
	/* the probe succeeds: open again */
	hd__dest_end(t, a, HD__DEST_OK, NULL, 133);
	assert_int_equal(hd__dest_begin(t, a, 133, why, sizeof(why)),
			 HD__DEST_GO);
	assert_int_equal(hd__dest_begin(t, a, 133, why, sizeof(why)),
			 HD__DEST_GO);
	/* a success in between resets the streak */
	hd__dest_end(t, a, HD__DEST_TROUBLE, "x", 134);
	hd__dest_end(t, a, HD__DEST_TROUBLE, "x", 134);
	assert_int_equal(hd__dest_begin(t, a, 134, why, sizeof(why)),
			 HD__DEST_GO);
	hd__dest_end(t, a, HD__DEST_OK, NULL, 134);
	assert_int_equal(hd__dest_begin(t, a, 134, why, sizeof(why)),
			 HD__DEST_GO);
	hd__dest_end(t, a, HD__DEST_TROUBLE, "x", 134);
	assert_int_equal(hd__dest_begin(t, a, 134, why, sizeof(why)),
			 HD__DEST_GO);
	hd__dests_put(t, a);
	hd__dests_put(t, b);
	hd__dests_free(t);
}

/* Sends begun before a pause and ending in it (the other workers' share
 * of a host that hangs) neither lengthen the pause nor double the next. */
static void test_stragglers_do_not_grow_the_pause(void **state)
{
	hd__dests_config cfg = {0, 0, 0};
	hd__dests *t = hd__dests_new(&cfg);
	hd__dest *a = hd__dests_get(t, "hang.example:80");
	hd__dest *b = hd__dests_get(t, "other.example:80");
	char why[256];

	(void)state;
	for (int i = 0; i < 8; i++)
		assert_int_equal(hd__dest_begin(t, a, 100, why, sizeof(why)),
				 HD__DEST_GO);
	for (int i = 0; i < 8; i++) /* all eight time out */
		hd__dest_end(t, a, HD__DEST_TROUBLE, "timed out", 102);
	assert_int_equal(hd__dest_begin(t, a, 110, why, sizeof(why)),
			 HD__DEST_PAUSED);
	assert_non_null(strstr(why, "paused for 2 s more"));
	/* the probe after 10 s fails: 20 s now, not 10 x 2^6 */
	assert_int_equal(hd__dest_begin(t, a, 112, why, sizeof(why)),
			 HD__DEST_GO);
	hd__dest_end(t, a, HD__DEST_TROUBLE, "timed out", 114);
	assert_int_equal(hd__dest_begin(t, a, 115, why, sizeof(why)),
			 HD__DEST_PAUSED);
	assert_non_null(strstr(why, "paused for 19 s more"));
	hd__dests_put(t, a);
	hd__dests_put(t, b);
	hd__dests_free(t);
}

/* A run with one destination is never paused: its retries and
 * --max-failures decide. */
static void test_no_pause_alone(void **state)
{
	hd__dests_config cfg = {0, 0, 0};
	hd__dests *t = hd__dests_new(&cfg);
	hd__dest *a = hd__dests_get(t, "smtp");
	char why[256];

	(void)state;
	for (int i = 0; i < 10; i++) {
		assert_int_equal(hd__dest_begin(t, a, 100, why, sizeof(why)),
				 HD__DEST_GO);
		hd__dest_end(t, a, HD__DEST_TROUBLE, "timed out", 100);
	}
	assert_int_equal(hd__dest_begin(t, a, 101, why, sizeof(why)),
			 HD__DEST_GO);
	hd__dests_put(t, a);
	hd__dests_free(t);
}

/* One destination: the pool slows; several: that one alone. */
static void test_slow_down(void **state)
{
	hd__dests_config cfg = {0, 0, 0};
	hd__dests *t = hd__dests_new(&cfg);
	hd__dest *a = hd__dests_get(t, "a:443"), *b;

	(void)state;
	assert_int_equal(hd__dest_slow_down(t, a, -1), 0);
	assert_true(hd__dest_reserve(t, a) == 0);
	b = hd__dests_get(t, "b:443");
	assert_int_equal(hd__dest_slow_down(t, a, 2.0), 1);
	/* a is paced now (and paused by its Retry-After), b is not */
	assert_true(hd__dest_reserve(t, a) > 0);
	assert_true(hd__dest_reserve(t, b) == 0);
	hd__dests_put(t, a);
	hd__dests_put(t, b);
	hd__dests_free(t);
}

/* Idle destinations are forgotten, so memory stays bounded. */
static void test_bounded(void **state)
{
	hd__dests_config cfg = {1, 0, 0};
	hd__dests *t = hd__dests_new(&cfg);
	char key[64], why[256];
	hd__dest *held = hd__dests_get(t, "held:1");

	(void)state;
	assert_int_equal(hd__dest_begin(t, held, 1, why, sizeof(why)),
			 HD__DEST_GO);
	for (int i = 0; i < 3 * HD__DESTS_MAX; i++) {
		hd__dest *d;
		snprintf(key, sizeof(key), "host%d:443", i);
		d = hd__dests_get(t, key);
		assert_non_null(d);
		hd__dests_put(t, d);
	}
	/* the one still held kept its state */
	assert_int_equal(hd__dest_begin(t, held, 1, why, sizeof(why)),
			 HD__DEST_WAIT);
	hd__dests_put(t, held);
	hd__dests_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_limit),
	    cmocka_unit_test(test_fair_share),
	    cmocka_unit_test(test_pause_and_probe),
	    cmocka_unit_test(test_stragglers_do_not_grow_the_pause),
	    cmocka_unit_test(test_no_pause_alone),
	    cmocka_unit_test(test_slow_down),
	    cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
