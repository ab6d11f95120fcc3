/* test_send.c — when a job may start (lib/send.c, hd__job_try_start). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelimit.h"
#include "dest.h"
#include "send.h"

#include <string.h>

/* The engine reads its clock once a loop, and rendering the rows it took
 * comes before their start: an unpaced run's pacer then answers with a
 * time later than the loop's "now".  That is no reason to wait (it once
 * made every send sleep a millisecond: at -c 1, 4 s for 3,000 requests
 * that take 0.4 s). */
static void test_a_stale_clock_is_no_wait(void **state)
{
	hd__sender s;
	hd__job j;
	double wake = 0;

	(void)state;
	memset(&s, 0, sizeof(s));
	hd__sender_init(&s);
	s.rl = hd_ratelimit_new(0);
	assert_non_null(s.rl);
	memset(&j, 0, sizeof(j));
	j.sender = &s;
	assert_int_equal(hd__job_try_start(&j, hd_monotonic() - 0.01, &wake),
			 HD__JOB_START);
	assert_int_equal(j.attempts, 1);
	hd_ratelimit_free(s.rl);
	hd__sender_destroy(&s);
}

/* A pacer's slot later than now is a wait, until that slot. */
static void test_a_paced_slot_waits(void **state)
{
	hd__sender s;
	hd__job a, b;
	double wake = 0, now;

	(void)state;
	memset(&s, 0, sizeof(s));
	hd__sender_init(&s);
	s.rl = hd_ratelimit_new(1); /* one a second */
	assert_non_null(s.rl);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.sender = b.sender = &s;
	now = hd_monotonic();
	assert_int_equal(hd__job_try_start(&a, now, &wake), HD__JOB_START);
	assert_int_equal(hd__job_try_start(&b, now, &wake), HD__JOB_WAIT);
	assert_true(wake > now + 0.9 && wake < now + 1.1);
	assert_int_equal(b.attempts, 0);
	/* once the slot has come it goes */
	assert_int_equal(hd__job_try_start(&b, wake, &wake), HD__JOB_START);
	hd_ratelimit_free(s.rl);
	hd__sender_destroy(&s);
}

/* A destination at its limit blocks the row, which takes nothing (no
 * pacer's slot, no attempt) and goes once a send there ended; a row for
 * another destination is not held by it. */
static void test_a_full_destination_blocks(void **state)
{
	hd__dests_config dc = {1, 0, 0};
	hd__sender s;
	hd__job a, b, c;
	double wake = 0, now;

	(void)state;
	memset(&s, 0, sizeof(s));
	hd__sender_init(&s);
	s.rl = hd_ratelimit_new(0);
	s.dests = hd__dests_new(&dc);
	assert_non_null(s.rl);
	assert_non_null(s.dests);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	a.sender = b.sender = c.sender = &s;
	a.dest = hd__dests_get(s.dests, "a.example:443");
	b.dest = hd__dests_get(s.dests, "a.example:443");
	c.dest = hd__dests_get(s.dests, "b.example:443");
	now = hd_monotonic();
	assert_int_equal(hd__job_try_start(&a, now, &wake), HD__JOB_START);
	assert_int_equal(hd__job_try_start(&b, now, &wake), HD__JOB_BLOCKED);
	assert_true(wake > now && wake < now + 1);
	assert_int_equal(b.attempts, 0);
	assert_false(b.dest_in || b.booked || b.started);
	assert_int_equal(hd__job_try_start(&c, now, &wake), HD__JOB_START);
	/* a's send ends: b may go */
	a.res.status = HD_OK;
	assert_int_equal(hd__job_attempt_done(&a, now), HD__JOB_DONE);
	assert_int_equal(hd__job_try_start(&b, now, &wake), HD__JOB_START);
	b.res.status = HD_OK;
	c.res.status = HD_OK;
	assert_int_equal(hd__job_attempt_done(&b, now), HD__JOB_DONE);
	assert_int_equal(hd__job_attempt_done(&c, now), HD__JOB_DONE);
	hd__dests_put(s.dests, a.dest);
	hd__dests_put(s.dests, b.dest);
	hd__dests_put(s.dests, c.dest);
	hd__dests_free(s.dests);
	hd_ratelimit_free(s.rl);
	hd__sender_destroy(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_stale_clock_is_no_wait),
	    cmocka_unit_test(test_a_paced_slot_waits),
	    cmocka_unit_test(test_a_full_destination_blocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
