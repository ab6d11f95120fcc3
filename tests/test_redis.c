/* test_redis.c — Redis stream URLs (the connection is tested against a
 * real redis-server by it_consume.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "redis.h"

#include <string.h>

static hd__redis_url parse_ok(const char *url)
{
	hd__redis_url u;
	hd_error e;

	if (hd__redis_url_parse(url, &u, &e) != HD_OK)
		fail_msg("%s: %s", url, e.msg);
	return u;
}

static void urls(void **state)
{
	hd__redis_url u;

	(void)state;
	u = parse_ok("redis://127.0.0.1/jobs");
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 6379);
	assert_int_equal(u.db, 0);
	assert_string_equal(u.stream, "jobs");
	assert_string_equal(u.user, "");
	assert_string_equal(u.display, "redis://127.0.0.1:6379/0/jobs");

	u = parse_ok("redis://queue.example:6390/3/mail:out");
	assert_string_equal(u.host, "queue.example");
	assert_int_equal(u.port, 6390);
	assert_int_equal(u.db, 3);
	assert_string_equal(u.stream, "mail:out");

	/* digits alone are a stream; digits before a stream a database */
	u = parse_ok("redis://h/5");
	assert_int_equal(u.db, 0);
	assert_string_equal(u.stream, "5");
	u = parse_ok("redis://h/0/a/b");
	assert_string_equal(u.stream, "a/b");
	u = parse_ok("redis://h/notes/high");
	assert_int_equal(u.db, 0);
	assert_string_equal(u.stream, "notes/high");
	u = parse_ok("redis://h/a%20b%2Fc");
	assert_string_equal(u.stream, "a b/c");

	u = parse_ok("redis://[::1]:7000/1/s");
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 7000);
	assert_string_equal(u.display, "redis://[::1]:7000/1/s");

	u = parse_ok("redis://mailer@h/s");
	assert_string_equal(u.user, "mailer");
	assert_string_equal(u.display, "redis://mailer@h:6379/0/s");
}

static void bad_urls(void **state)
{
	static const char *const bad[] = {
	    "http://h/s",	 "redis://h",	   "redis://h/",
	    "redis:///s",	 "redis://h:0/s",  "redis://h:x/s",
	    "redis://h:70000/s", "redis://[::1/s", "redis://h/s?x",
	    "redis://h/a%2",	 "redis://h/%00",  "redis://@h/s",
	};
	hd__redis_url u;
	hd_error e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (hd__redis_url_parse(bad[i], &u, &e) != HD_ECONFIG)
			fail_msg("%s was taken", bad[i]);
	/* a password never goes in argv */
	assert_int_equal(hd__redis_url_parse("redis://u:pw@h/s", &u, &e),
			 HD_ECONFIG);
	assert_non_null(strstr(e.msg, "HERALD_REDIS_PASSWORD"));
	assert_null(strstr(e.msg, "pw@"));
	assert_int_equal(hd__redis_url_parse("rediss://h/s", &u, &e),
			 HD_ECONFIG);
	assert_non_null(strstr(e.msg, "TLS"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(urls),
	    cmocka_unit_test(bad_urls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
