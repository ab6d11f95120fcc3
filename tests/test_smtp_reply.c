/* test_smtp_reply.c — SMTP reply lines and redaction (lib/smtp_reply.c),
 * as the SMTP transport feeds them from libcurl's debug callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "redact.h"
#include "smtp_reply.h"

static void feed(hd__smtp_reply *r, const char *const *lines)
{
	for (; *lines; lines++)
		hd__smtp_reply_line(r, *lines, strlen(*lines));
}

static void multi_line(void **state)
{
	static const char *const lines[] = {"250-mx.example\r\n",
					    "250-PIPELINING\r\n",
					    "250 SIZE 1000\r\n", NULL};
	hd__smtp_reply r;

	(void)state;
	hd__smtp_reply_clear(&r);
	feed(&r, lines);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.text, "mx.example PIPELINING SIZE 1000");
	assert_int_equal(r.len, strlen(r.text));
	assert_false(r.open);
}

static void last_reply_wins(void **state)
{
	static const char *const lines[] = {"250 2.1.0 Ok\r\n",
					    "550-5.1.1 no such\r\n",
					    "550 5.1.1 user\r\n", NULL};
	hd__smtp_reply r;

	(void)state;
	hd__smtp_reply_clear(&r);
	feed(&r, lines);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.text, "5.1.1 no such 5.1.1 user");
}

static void skipped_lines(void **state)
{
	/* an AUTH challenge, the reply to QUIT and lines that are not
	 * replies leave the last reply as it was */
	static const char *const lines[] = {"250 2.0.0 Ok: queued\r\n",
					    "334 VXNlcm5hbWU6\r\n",
					    "221 Bye\r\n",
					    "hello\r\n",
					    "25\r\n",
					    "2500 x\r\n",
					    "650 x\r\n",
					    NULL};
	hd__smtp_reply r;

	(void)state;
	hd__smtp_reply_clear(&r);
	feed(&r, lines);
	assert_int_equal(r.code, 250);
	assert_string_equal(r.text, "2.0.0 Ok: queued");
}

static void bounded(void **state)
{
	char line[2000];
	hd__smtp_reply r;

	(void)state;
	memset(line, 'x', sizeof(line));
	memcpy(line, "250-", 4);
	hd__smtp_reply_clear(&r);
	for (int i = 0; i < 5; i++)
		hd__smtp_reply_line(&r, line, sizeof(line));
	assert_int_equal(r.len, HD__SMTP_REPLY_MAX - 1);
	assert_int_equal(strlen(r.text), r.len);
}

static void redact(void **state)
{
	char *secrets[3] = {"s3cr3t-pw", "czNjcjN0LXB3", NULL};
	char text[] = "535 bad s3cr3t-pw czNjcjN0LXB3 \x1b[31m\xc3\xa9";
	char star[] = "a*b**c";
	char *one[] = {"****"};
	char *e[] = {"e"};
	char own[] = "server does not offer AUTH";
	char utf8[] = "550 5.1.1 Empf\xc3\xa4nger unbekannt \xe2\x80\x94 "
		      "\xc2\x9b\xff\xc3 x";
	char fields[] = "535 auth failed: password=hunter22 token: \"abc123\" "
			"session=Q1w2E3, sid=9 pass=x Authorization: Bearer "
			"eyJhbGciOi; pass the test [TOKEN=abc] x-token=keep "
			"9password=keep";

	(void)state;
	hd__smtp_redact(text, secrets, 3);
	assert_string_equal(text, "535 bad *** *** ?[31m\xc3\xa9");
	/* a password of '*'s must not loop */
	hd__smtp_redact(star, one, 1);
	assert_string_equal(star, "a*b**c");
	/* a one-letter password would rewrite every word and show itself */
	hd__smtp_redact(own, e, 1);
	assert_string_equal(own, "server does not offer AUTH");
	/* UTF-8 stays; C1 controls and bytes that are not UTF-8 do not */
	hd__smtp_redact(utf8, NULL, 0);
	assert_string_equal(utf8, "550 5.1.1 Empf\xc3\xa4nger unbekannt "
				  "\xe2\x80\x94 ???? x");
	/* credentials the server wrote back */
	hd__smtp_redact(fields, NULL, 0);
	assert_string_equal(fields, "535 auth failed: password=*** token: "
				    "\"***\" session=***, sid=* pass=* "
				    "Authorization: Bearer ***; pass the test "
				    "[TOKEN=***] x-token=keep 9password=keep");
}

/* Which request headers hold credentials (lib/redact.c), whatever the
 * case, wherever the telling part is in the name. */
static void secret_headers(void **state)
{
	static const char *secret[] = {
	    "Authorization", "proxy-authorization", "Cookie",	  "X-Api-Key",
	    "X-AUTH-Token",  "x-signature",	    "My-Session", "apikey",
	    "Api_Key",	     "X-Client-Secret",	    "password",	  "auth"};
	static const char *plain[] = {
	    "Content-Type", "Accept", "X-Request-Id",	 "Sessio",
	    "toke",	    "X-Api",  "Idempotency-Key", "a"};

	(void)state;
	for (size_t i = 0; i < sizeof(secret) / sizeof(*secret); i++)
		if (!hd__redact_secret_header(secret[i], strlen(secret[i])))
			fail_msg("%s is not taken for a secret", secret[i]);
	for (size_t i = 0; i < sizeof(plain) / sizeof(*plain); i++)
		if (hd__redact_secret_header(plain[i], strlen(plain[i])))
			fail_msg("%s is taken for a secret", plain[i]);
	/* only the first n bytes are the name */
	assert_false(hd__redact_secret_header("X-Toke: n", 6));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(multi_line),    cmocka_unit_test(last_reply_wins),
	    cmocka_unit_test(skipped_lines), cmocka_unit_test(bounded),
	    cmocka_unit_test(redact),	     cmocka_unit_test(secret_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
