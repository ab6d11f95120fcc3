/* test_retry_after.c — the Retry-After header value (lib/retry_after.c):
 * delta-seconds, the three HTTP-date forms, clamping, garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "retry_after.h"

/* 2026-11-27 13:45:10 UTC */
#define NOW ((time_t)1795787110)

static void delta_seconds(void **state)
{
	(void)state;
	assert_true(hd__retry_after_parse("0", NOW) == 0);
	assert_true(hd__retry_after_parse("120", NOW) == 120);
	assert_true(hd__retry_after_parse("3600", NOW) == 3600);
	assert_true(hd__retry_after_parse("3601", NOW) == HD_RETRY_AFTER_CAP);
	/* far too many digits: clamped, no overflow */
	assert_true(hd__retry_after_parse("999999999999999999999999999999",
					  NOW) == HD_RETRY_AFTER_CAP);
	assert_true(
	    hd__retry_after_parse("0000000000000000000000000007", NOW) == 7);
}

static void http_dates(void **state)
{
	(void)state;
	/* IMF-fixdate, RFC 850 and asctime forms of NOW + 90 s */
	assert_true(
	    hd__retry_after_parse("Fri, 27 Nov 2026 13:46:40 GMT", NOW) == 90);
	assert_true(
	    hd__retry_after_parse("Friday, 27-Nov-26 13:46:40 GMT", NOW) == 90);
	assert_true(hd__retry_after_parse("Fri Nov 27 13:46:40 2026", NOW) ==
		    90);
	/* in the past: now; far ahead: the cap */
	assert_true(
	    hd__retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT", NOW) == 0);
	assert_true(hd__retry_after_parse("Fri, 31 Dec 9999 23:59:59 GMT",
					  NOW) == HD_RETRY_AFTER_CAP);
}

static void garbage(void **state)
{
	static const char *const bad[] = {"",	 "soon", "-5",
					  "1.5", "0x10", "tomorrow at noon"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_true(hd__retry_after_parse(bad[i], NOW) == -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(delta_seconds),
	    cmocka_unit_test(http_dates),
	    cmocka_unit_test(garbage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
