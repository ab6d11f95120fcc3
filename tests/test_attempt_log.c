/* test_attempt_log.c — retries and slow-downs handed from workers to the
 * coordinator: order, copies, the bound, several writers at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "attempt_log.h"

#include <pthread.h>
#include <string.h>

/* Entries come out oldest first, each with its own copy of the text. */
static void entries_in_order_with_their_text(void **state)
{
	hd__attempt_log *l = hd__attempt_log_new();
	hd__attempt_entry e[4];
	hd_ratelimit *rl = hd_ratelimit_new(10);
	char reason[] = "451 4.7.1 try later";
	long dropped = -1;
	size_t n;

	(void)state;
	assert_non_null(l);
	hd__attempt_log_retry(l, 7, 1, reason, 0.25);
	reason[0] = 'X'; /* the log kept its own copy */
	hd__attempt_log_slow(l, 8, 2, "HTTP 429", "127.0.0.1:99", rl);
	n = hd__attempt_log_take(l, e, 4, &dropped);
	assert_int_equal(n, 2);
	assert_int_equal(dropped, 0);
	assert_int_equal(e[0].kind, HD_EVENT_RETRY);
	assert_int_equal(e[0].info.row, 7);
	assert_int_equal(e[0].info.attempt, 1);
	assert_true(e[0].info.wait > 0.24 && e[0].info.wait < 0.26);
	assert_string_equal(e[0].info.reason, "451 4.7.1 try later");
	assert_int_equal(e[1].kind, HD_EVENT_SLOW_DOWN);
	assert_int_equal(e[1].info.row, 8);
	assert_string_equal(e[1].info.dest, "127.0.0.1:99");
	assert_true(e[1].info.rate > 9.9 && e[1].info.rate < 10.1);
	assert_true(e[1].info.pause == 0);
	assert_int_equal(hd__attempt_log_take(l, e, 4, &dropped), 0);
	hd_ratelimit_free(rl);
	hd__attempt_log_free(l);
}

/* A coordinator that falls behind loses entries, counted, never blocks a
 * worker; a NULL log takes nothing. */
static void beyond_the_ring_counted(void **state)
{
	hd__attempt_log *l = hd__attempt_log_new();
	hd__attempt_entry e[8];
	long dropped = 0, got = 0;
	size_t n;

	(void)state;
	for (int i = 0; i < HD__ATTEMPT_LOG_MAX + 5; i++)
		hd__attempt_log_retry(l, i + 1, 1, "x", 1);
	while ((n = hd__attempt_log_take(l, e, 8, &dropped)) > 0) {
		if (got == 0)
			assert_int_equal(dropped, 5);
		else
			assert_int_equal(dropped, 0);
		assert_int_equal(e[0].info.row, got + 1);
		got += (long)n;
	}
	assert_int_equal(got, HD__ATTEMPT_LOG_MAX);
	hd__attempt_log_retry(NULL, 1, 1, "x", 1);
	hd__attempt_log_slow(NULL, 1, 1, "x", "", NULL);
	assert_int_equal(hd__attempt_log_take(NULL, e, 8, &dropped), 0);
	hd__attempt_log_free(l);
}

struct writer {
	hd__attempt_log *l;
	long base;
};

static void *write_some(void *arg)
{
	struct writer *w = arg;

	for (long i = 0; i < 50; i++)
		hd__attempt_log_retry(w->l, w->base + i, 1, "busy", 0.1);
	return NULL;
}

/* Workers write while the coordinator takes: nothing lost within the
 * bound, each worker's entries in its own order (TSan checks the rest). */
static void workers_and_coordinator_at_once(void **state)
{
	hd__attempt_log *l = hd__attempt_log_new();
	struct writer w[4];
	pthread_t t[4];
	hd__attempt_entry e[16];
	long last[4] = {-1, -1, -1, -1}, dropped, total = 0, lost = 0;
	size_t n;

	(void)state;
	for (int i = 0; i < 4; i++) {
		w[i].l = l;
		w[i].base = 1000L * i;
		pthread_create(&t[i], NULL, write_some, &w[i]);
	}
	for (int round = 0; round < 2; round++) {
		if (round == 1)
			for (int i = 0; i < 4; i++)
				pthread_join(t[i], NULL);
		while ((n = hd__attempt_log_take(l, e, 16, &dropped)) > 0 ||
		       dropped) {
			lost += dropped;
			for (size_t k = 0; k < n; k++) {
				long row = e[k].info.row;
				int who = (int)(row / 1000);
				assert_true(row > last[who]);
				last[who] = row;
				total++;
			}
		}
	}
	assert_int_equal(total + lost, 200);
	assert_int_equal(lost, 0); /* 200 < HD__ATTEMPT_LOG_MAX */
	hd__attempt_log_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(entries_in_order_with_their_text),
	    cmocka_unit_test(beyond_the_ring_counted),
	    cmocka_unit_test(workers_and_coordinator_at_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
