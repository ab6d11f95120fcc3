/* test_report_stats.c — bounded figures from report rows: counts,
 * percentiles, error groups, slowest rows, the timeline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "report_stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hd_report_row row_of(long n, hd_row_status st, long ms, double at)
{
	hd_report_row r = {0};

	r.row = n;
	r.status = st;
	r.attempts = st == HD_ROW_SKIPPED ? 0 : 1;
	r.ms = ms;
	r.at = at;
	return r;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? -1 : x > y;
}

/* Nearest rank, as the stats promise. */
static long exact_percentile(long *v, size_t n, double q)
{
	size_t rank = (size_t)ceil(q * (double)n);

	qsort(v, n, sizeof(*v), cmp_long);
	return v[(rank ? rank : 1) - 1];
}

static void percentiles_exact_below_1024_ms(void **state)
{
	hd_report_stats *s;
	long v[1000];
	uint64_t x = 88172645463325252ULL;

	(void)state;
	assert_int_equal(hd_report_stats_new(0, &s), HD_OK);
	assert_int_equal(hd_report_stats_percentile(s, 0.5), -1);
	for (size_t i = 0; i < 1000; i++) {
		hd_report_row r;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v[i] = (long)(x % 1000);
		r = row_of((long)i + 1, HD_ROW_SENT, v[i], 0);
		hd_report_stats_add(s, &r);
	}
	assert_int_equal(s->attempted, 1000);
	assert_int_equal(hd_report_stats_percentile(s, 0.50),
			 exact_percentile(v, 1000, 0.50));
	assert_int_equal(hd_report_stats_percentile(s, 0.95),
			 exact_percentile(v, 1000, 0.95));
	assert_int_equal(hd_report_stats_percentile(s, 0.99),
			 exact_percentile(v, 1000, 0.99));
	assert_int_equal(hd_report_stats_percentile(s, 1.0), s->max_ms);
	assert_int_equal(hd_report_stats_percentile(s, 0), -1);
	hd_report_stats_free(s);
}

/* Above 1024 ms a percentile is within 1/64 below the true value. */
static void percentiles_close_above(void **state)
{
	hd_report_stats *s;
	long v[500];

	(void)state;
	assert_int_equal(hd_report_stats_new(0, &s), HD_OK);
	for (size_t i = 0; i < 500; i++) {
		hd_report_row r;
		v[i] = 1000 + (long)(i * i * 37 % 9000000);
		r = row_of((long)i + 1, HD_ROW_FAILED, v[i], 0);
		hd_report_stats_add(s, &r);
	}
	for (double q = 0.05; q <= 1.0; q += 0.05) {
		long want = exact_percentile(v, 500, q);
		long got = hd_report_stats_percentile(s, q);
		assert_true(got <= want);
		assert_true((double)got >= (double)want * (1 - 1.0 / 64) - 1);
	}
	hd_report_stats_free(s);
}

static void counts_by_status_and_attempts(void **state)
{
	hd_report_stats *s;
	hd_report_row r;

	(void)state;
	assert_int_equal(hd_report_stats_new(3, &s), HD_OK);
	r = row_of(1, HD_ROW_SENT, 5, 0);
	r.attempts = 3;
	hd_report_stats_add(s, &r);
	r = row_of(2, HD_ROW_SKIPPED, 0, 0);
	hd_report_stats_add(s, &r);
	r = row_of(3, HD_ROW_INVALID, 0, 0);
	r.attempts = 0;
	hd_report_stats_add(s, &r);
	assert_int_equal(s->rows, 3);
	assert_int_equal(s->by_status[HD_ROW_SENT], 1);
	assert_int_equal(s->by_status[HD_ROW_SKIPPED], 1);
	assert_int_equal(s->by_status[HD_ROW_INVALID], 1);
	assert_int_equal(s->attempts, 3);
	assert_int_equal(s->attempted, 1);
	/* rows never attempted are not among the slowest */
	assert_int_equal(s->nslow, 1);
	hd_report_stats_add(NULL, &r);
	hd_report_stats_add(s, NULL);
	hd_report_stats_free(s);
	hd_report_stats_free(NULL);
	assert_int_equal(hd_report_stats_new(HD_STATS_MAX_SLOWEST + 1, &s),
			 HD_EINVAL);
}

static void domains(void **state)
{
	char d[64];

	(void)state;
	hd_report_stats_domain("Ann@Example.COM", d, sizeof(d));
	assert_string_equal(d, "example.com");
	hd_report_stats_domain("\"a@b\"@x.example", d, sizeof(d));
	assert_string_equal(d, "x.example");
	hd_report_stats_domain("https://user:pw@Hooks.example:8443/p?q", d,
			       sizeof(d));
	assert_string_equal(d, "hooks.example");
	hd_report_stats_domain("customer-17", d, sizeof(d));
	assert_string_equal(d, "(no domain)");
	hd_report_stats_domain(NULL, d, sizeof(d));
	assert_string_equal(d, "(no domain)");
	hd_report_stats_domain("a@", d, sizeof(d));
	assert_string_equal(d, "(no domain)");
}

static void error_groups_exact_while_they_fit(void **state)
{
	hd_report_stats *s;
	hd_stats_group g[4];
	size_t n;

	(void)state;
	assert_int_equal(hd_report_stats_new(0, &s), HD_OK);
	for (long i = 1; i <= 60; i++) {
		hd_report_row r = row_of(i, HD_ROW_FAILED, 1, 0);
		r.code = i % 3 == 0 ? 550 : i % 3 == 1 ? 451 : 0;
		r.key = i % 2 ? "a@one.example" : "b@TWO.example";
		r.error = i % 3 == 2 ? "connection refused" : "reply";
		hd_report_stats_add(s, &r);
	}
	/* sent rows are not errors */
	{
		hd_report_row r = row_of(61, HD_ROW_SENT, 1, 0);
		r.code = 250;
		hd_report_stats_add(s, &r);
	}
	n = hd_report_stats_groups(&s->by_code, g, 4);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(g[i].count, 20);
		assert_int_equal(g[i].over, 0);
	}
	/* ties by name */
	assert_string_equal(g[0].name, "451");
	assert_string_equal(g[1].name, "550");
	assert_string_equal(g[2].name, "none");
	assert_string_equal(g[2].sample, "connection refused");
	assert_int_equal(g[2].first_row, 2);
	n = hd_report_stats_groups(&s->by_domain, g, 1);
	assert_int_equal(n, 1);
	assert_string_equal(g[0].name, "one.example");
	assert_int_equal(g[0].count, 30);
	assert_int_equal(s->by_domain.overflowed, 0);
	hd_report_stats_free(s);
}

/* More names than fit: the heavy hitters are still found, and each
 * count is within its stated bound. */
static void error_groups_find_heavy_hitters(void **state)
{
	hd_report_stats *s;
	hd_stats_group g[3];
	char key[64];
	long n = 0;

	(void)state;
	assert_int_equal(hd_report_stats_new(0, &s), HD_OK);
	for (long i = 0; i < 20000; i++) {
		hd_report_row r = row_of(i + 1, HD_ROW_FAILED, 1, 0);
		if (i % 4 == 0)
			snprintf(key, sizeof(key), "x@big.example");
		else if (i % 10 == 1)
			snprintf(key, sizeof(key), "x@second.example");
		else
			snprintf(key, sizeof(key), "x@d%ld.example", i);
		r.key = key;
		hd_report_stats_add(s, &r);
		n++;
	}
	assert_true(s->by_domain.overflowed);
	assert_int_equal(s->by_domain.n, HD_STATS_GROUPS);
	assert_int_equal(hd_report_stats_groups(&s->by_domain, g, 2), 2);
	assert_string_equal(g[0].name, "big.example");
	assert_true(g[0].count >= 5000 && g[0].count - g[0].over <= 5000);
	assert_string_equal(g[1].name, "second.example");
	assert_true(g[1].count >= 2000 && g[1].count - g[1].over <= 2000);
	assert_int_equal(n, 20000);
	hd_report_stats_free(s);
}

static void slowest_rows_heap(void **state)
{
	hd_report_stats *s;
	hd_stats_slow top[5];
	size_t n;

	(void)state;
	assert_int_equal(hd_report_stats_new(4, &s), HD_OK);
	for (long i = 1; i <= 1000; i++) {
		hd_report_row r = row_of(i, HD_ROW_SENT, (i * 7919) % 1009, 0);
		r.key = "k";
		hd_report_stats_add(s, &r);
	}
	n = hd_report_stats_slowest(s, top, 5);
	assert_int_equal(n, 4);
	assert_int_equal(top[0].ms, 1008);
	assert_int_equal(top[1].ms, 1007);
	assert_int_equal(top[2].ms, 1006);
	assert_int_equal(top[3].ms, 1005);
	assert_string_equal(top[0].key, "k");
	n = hd_report_stats_slowest(s, top, 2);
	assert_int_equal(n, 2);
	assert_int_equal(top[1].ms, 1007);
	/* equal times: the earlier row stays */
	hd_report_stats_free(s);
	assert_int_equal(hd_report_stats_new(2, &s), HD_OK);
	for (long i = 1; i <= 5; i++) {
		hd_report_row r = row_of(i, HD_ROW_SENT, 100, 0);
		hd_report_stats_add(s, &r);
	}
	n = hd_report_stats_slowest(s, top, 2);
	assert_int_equal(top[0].row, 1);
	assert_int_equal(top[1].row, 2);
	hd_report_stats_free(s);
}

static long sum(const long *v, size_t n)
{
	long t = 0;

	for (size_t i = 0; i < n; i++)
		t += v[i];
	return t;
}

static void timeline_per_second(void **state)
{
	hd_report_stats *s;
	double t0 = 1795787110.0;

	(void)state;
	assert_int_equal(hd_report_stats_new(0, &s), HD_OK);
	for (long i = 0; i < 100; i++) {
		hd_report_row r =
		    row_of(i + 1, i % 5 ? HD_ROW_SENT : HD_ROW_FAILED, 1,
			   t0 + (double)i * 0.1 + 0.05);
		hd_report_stats_add(s, &r);
	}
	/* out of order, earlier than the first: the bins shift */
	{
		hd_report_row r = row_of(101, HD_ROW_SENT, 1, t0 - 3.5);
		hd_report_stats_add(s, &r);
	}
	assert_true(s->width == 1);
	assert_true(s->t0 == t0 - 4);
	assert_int_equal(s->used, 14);
	assert_int_equal(s->sent_bins[0], 1);
	assert_int_equal(s->sent_bins[4], 8);
	assert_int_equal(s->failed_bins[4], 2);
	assert_int_equal(sum(s->sent_bins, s->used), 81);
	assert_int_equal(sum(s->failed_bins, s->used), 20);
	assert_true(s->first_at == t0 - 3.5);
	hd_report_stats_free(s);
}

/* A run longer than the bins: they double in width, nothing is lost. */
static void timeline_long_runs_merge(void **state)
{
	hd_report_stats *s;
	double t0 = 1795787110.0;

	(void)state;
	assert_int_equal(hd_report_stats_new(0, &s), HD_OK);
	for (long i = 0; i < 20000; i++) {
		hd_report_row r = row_of(i + 1, HD_ROW_SENT, 1, t0 + (double)i);
		hd_report_stats_add(s, &r);
	}
	{
		/* and one far before */
		hd_report_row r = row_of(20001, HD_ROW_FAILED, 1, t0 - 50000);
		hd_report_stats_add(s, &r);
	}
	assert_true(s->width >= 16);
	assert_true(s->used <= HD_STATS_BINS);
	assert_int_equal(sum(s->sent_bins, HD_STATS_BINS), 20000);
	assert_int_equal(sum(s->failed_bins, HD_STATS_BINS), 1);
	assert_true(s->t0 <= t0 - 50000);
	assert_true(s->t0 + s->width * (double)s->used > t0 + 19999);
	hd_report_stats_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(percentiles_exact_below_1024_ms),
	    cmocka_unit_test(percentiles_close_above),
	    cmocka_unit_test(counts_by_status_and_attempts),
	    cmocka_unit_test(domains),
	    cmocka_unit_test(error_groups_exact_while_they_fit),
	    cmocka_unit_test(error_groups_find_heavy_hitters),
	    cmocka_unit_test(slowest_rows_heap),
	    cmocka_unit_test(timeline_per_second),
	    cmocka_unit_test(timeline_long_runs_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
