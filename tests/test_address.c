/* test_address.c — mailbox check against the isemail corpus, and
 * address-list parsing (lib/address.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"

/* ---- hd_address_check, hand-made cases -------------------------------- */

/* Checks the verdict and, for a rejection, the exact message. */
static void check(const char *a, size_t n, const char *want_msg)
{
	hd_error err;
	hd_status st;

	hd_error_clear(&err);
	st = hd_address_check(a, n, &err);
	if (!want_msg) {
		if (st != HD_OK)
			fail_msg("\"%.*s\" rejected: %s", (int)n, a, err.msg);
		return;
	}
	if (st != HD_EADDRESS)
		fail_msg("\"%.*s\" accepted, want \"%s\"", (int)n, a, want_msg);
	assert_int_equal(err.code, HD_EADDRESS);
	assert_string_equal(err.msg, want_msg);
}

#define CHECK(lit, msg) check(lit, sizeof(lit) - 1, msg)

static void address_cases(void **state)
{
	char buf[400];

	(void)state;
	CHECK("ann@example.com", NULL);
	CHECK("first.last+tag@mail.example.co.uk", NULL);
	CHECK("o'brien@example.ie", NULL);
	CHECK("x@io", NULL); /* TLD alone: accepted (policy) */
	CHECK("x@xn--bcher-kva.example", NULL);
	CHECK("", "empty address");
	CHECK("plain", "no @");
	CHECK("@example.com", "empty local part");
	CHECK("a@", "no domain after @");
	CHECK("a@b@example.com", "more than one @");
	CHECK(".a@example.com", "local part starts with a dot");
	CHECK("a.@example.com", "local part ends with a dot");
	CHECK("a..b@example.com", "two dots in a row in local part");
	CHECK("a@.example.com", "domain starts with a dot");
	CHECK("a@example.com.", "domain ends with a dot");
	CHECK("a@example..com", "two dots in a row in domain");
	CHECK("a@-x.com", "domain label starts with a hyphen");
	CHECK("a@x-.com", "domain label ends with a hyphen");
	CHECK("a@ex_ample.com", "character '_' not allowed in domain");
	CHECK("a<b@example.com", "character '<' not allowed in local part");
	CHECK("a,b@example.com", "character ',' not allowed in local part");
	CHECK("a@example.123", "numeric top-level domain");
	CHECK("a@192.0.2.1", "numeric top-level domain");
	CHECK("\"a b\"@example.com", "quoted local part not accepted");
	CHECK("\"a@b\"@example.com", "quoted local part not accepted");
	CHECK("a@[192.0.2.1]", "address literal not accepted");
	CHECK("a@[IPv6:::1]", "address literal not accepted");
	CHECK("(c)a@example.com", "comment in address not accepted");
	CHECK("a@example.com(c)", "comment in address not accepted");
	CHECK("a b@example.com", "white space inside the address");
	CHECK(" a@example.com", "white space around the address");
	CHECK("a@example.com\xc2\xa0", "white space around the address");
	/* the other invisible spaces a spreadsheet leaves, at either end */
	CHECK("\xef\xbb\xbf"
	      "a@example.com",
	      "white space around the address");
	CHECK("a@example.com\xe2\x80\x8b", "white space around the address");
	CHECK("\xc2\xa0"
	      "a@example.com",
	      "white space around the address");
	CHECK("a@example.com\r\nBcc: x@y.com", "line break in address");
	CHECK("a@example.com\n", "line break in address");
	CHECK("a@exa\rmple.com", "line break in address");
	CHECK("a\0b@example.com", "NUL byte in address");
	CHECK("a\x01@example.com", "control character in address");
	CHECK("a\t@example.com", "control character in address");
	CHECK("a @example.com", "white space inside the address");
	CHECK("a\x7F@example.com", "control character in address");
	CHECK("j\xC3\xB6rg@example.com",
	      "non-ASCII address needs SMTPUTF8 (not supported)");
	CHECK("a@b\xC3\xBC"
	      "cher.example",
	      "non-ASCII address needs SMTPUTF8 (not supported)");
	/* the NUL is found though len goes past it */
	check("a@b.c\0d", 7, "NUL byte in address");
	assert_int_equal(hd_address_check(NULL, 0, NULL), HD_EADDRESS);
	assert_int_equal(hd_address_check("a@b.example", 11, NULL), HD_OK);

	/* lengths: local 64, label 63, domain 255, whole 254 */
	memset(buf, 'a', 64);
	strcpy(buf + 64, "@example.com");
	check(buf, strlen(buf), NULL);
	memset(buf, 'a', 65);
	strcpy(buf + 65, "@example.com");
	check(buf, strlen(buf), "local part too long");
	strcpy(buf, "a@");
	memset(buf + 2, 'b', 63);
	strcpy(buf + 65, ".com");
	check(buf, strlen(buf), NULL);
	strcpy(buf, "a@");
	memset(buf + 2, 'b', 64);
	strcpy(buf + 66, ".com");
	check(buf, strlen(buf), "domain label too long");
	/* 4 labels of 63 + 3 dots = 255: a legal domain, too long an
	 * address */
	strcpy(buf, "a@");
	for (int i = 0; i < 4; i++) {
		memset(buf + 2 + i * 64, 'c', 63);
		buf[2 + i * 64 + 63] = i < 3 ? '.' : '\0';
	}
	assert_int_equal(strlen(buf), 257);
	check(buf, strlen(buf), "address too long");
	strcpy(buf + strlen(buf), ".x");
	check(buf, strlen(buf), "domain too long");
	/* exactly 254 */
	memset(buf, 'a', 64);
	buf[64] = '@';
	for (int i = 0; i < 3; i++) {
		memset(buf + 65 + i * 62, 'd', 61);
		buf[65 + i * 62 + 61] = '.';
	}
	memset(buf + 65 + 3 * 62, 'e', 3);
	buf[65 + 3 * 62 + 3] = '\0';
	assert_int_equal(strlen(buf), 254);
	check(buf, 254, NULL);
	buf[254] = 'e';
	buf[255] = '\0';
	check(buf, 255, "address too long");
}

/* ---- the isemail corpus ------------------------------------------------ */

static char corpus_dir[1024];

/* HERALD_TESTDATA, else ../shared/testdata next to HERALD_SRC or cwd. */
static int find_corpus(void)
{
	const char *env = getenv("HERALD_TESTDATA");
	const char *src = getenv("HERALD_SRC");
	char probe[1200];

	if (env && *env)
		snprintf(corpus_dir, sizeof(corpus_dir), "%s", env);
	else if (src && *src)
		snprintf(corpus_dir, sizeof(corpus_dir),
			 "%s/../shared/testdata", src);
	else
		snprintf(corpus_dir, sizeof(corpus_dir), "../shared/testdata");
	snprintf(probe, sizeof(probe), "%s/isemail/derived/tests.json",
		 corpus_dir);
	return access(probe, R_OK) == 0;
}

enum {
	C_VALID,
	C_DNSWARN,
	C_RFC5321,
	C_CFWS,
	C_DEPREC,
	C_RFC5322,
	C_ERR,
	C_COUNT
};

static const char *const category_names[C_COUNT] = {
    "ISEMAIL_VALID_CATEGORY",
    "ISEMAIL_DNSWARN",
    "ISEMAIL_RFC5321",
    "ISEMAIL_CFWS",
    "ISEMAIL_DEPREC",
    "ISEMAIL_RFC5322",
    "ISEMAIL_ERR",
};

static int category_of(const char *name)
{
	int i;

	for (i = 0; i < C_COUNT; i++)
		if (!strcmp(name, category_names[i]))
			return i;
	return -1;
}

/*
 * The policy of address.h, as a verdict per corpus case: 1 accept, 0
 * reject.  RFC5321 is decided by diagnosis: a TLD alone is accepted,
 * quoted local parts, address literals and numeric TLDs are not.
 */
static int policy_accepts(int cat, const char *diagnosis)
{
	switch (cat) {
	case C_VALID:
	case C_DNSWARN:
		return 1;
	case C_RFC5321:
		return !strcmp(diagnosis, "ISEMAIL_RFC5321_TLD");
	default:
		return 0;
	}
}

static void isemail_corpus(void **state)
{
	char path[1200];
	json_error_t jerr;
	json_t *doc, *tests, *t;
	size_t i, total = 0;
	size_t seen[C_COUNT][2] = {{0}}; /* [category][accepted] */
	int cat, ok, wrong = 0;
	hd_error err;

	(void)state;
	snprintf(path, sizeof(path), "%s/isemail/derived/tests.json",
		 corpus_dir);
	doc = json_load_file(path, JSON_ALLOW_NUL, &jerr);
	if (!doc)
		fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
	tests = json_object_get(doc, "tests");
	assert_true(json_is_array(tests));
	json_array_foreach(tests, i, t)
	{
		json_t *a = json_object_get(t, "address_ctrl");
		const char *c =
		    json_string_value(json_object_get(t, "category"));
		const char *d =
		    json_string_value(json_object_get(t, "diagnosis"));

		assert_non_null(a);
		assert_non_null(c);
		assert_non_null(d);
		cat = category_of(c);
		if (cat < 0)
			fail_msg("unknown category %s", c);
		hd_error_clear(&err);
		ok = hd_address_check(json_string_value(a),
				      json_string_length(a), &err) == HD_OK;
		if (!ok) {
			assert_int_equal(err.code, HD_EADDRESS);
			assert_true(err.msg[0] != '\0');
		}
		seen[cat][ok]++;
		total++;
		if (ok != policy_accepts(cat, d)) {
			wrong++;
			print_error(
			    "id %lld %s %s \"%s\": %s%s\n",
			    json_integer_value(json_object_get(t, "id")), c, d,
			    json_string_value(a),
			    ok ? "accepted" : "rejected: ", ok ? "" : err.msg);
		}
	}
	fprintf(stderr, "isemail tests.json, %zu cases:\n", total);
	for (cat = 0; cat < C_COUNT; cat++)
		fprintf(stderr, "  %-24s accepted %3zu  rejected %3zu\n",
			category_names[cat], seen[cat][1], seen[cat][0]);
	json_decref(doc);
	assert_int_equal(wrong, 0);
	/* the corpus as documented in its README: a changed corpus must
	 * not pass silently */
	assert_int_equal(total, 164);
	assert_int_equal(seen[C_VALID][1], 14);
	assert_int_equal(seen[C_DNSWARN][1], 8);
	assert_int_equal(seen[C_ERR][0], 66);
	assert_int_equal(seen[C_RFC5321][1], 1);
	assert_int_equal(seen[C_RFC5321][0], 15);
	assert_int_equal(
	    seen[C_CFWS][1] + seen[C_DEPREC][1] + seen[C_RFC5322][1], 0);
}

/* ---- mailbox lists ----------------------------------------------------- */

struct want {
	const char *display; /* NULL: none */
	const char *addr;
};

static void parse_ok(const char *s, const struct want *w, size_t n)
{
	hd_mailbox *l = (hd_mailbox *)1;
	size_t count = 99, i;
	hd_error err;
	hd_status st;

	hd_error_clear(&err);
	st = hd_mailbox_list_parse(s, strlen(s), &l, &count, &err);
	if (st != HD_OK)
		fail_msg("\"%s\": %s: %s", s, hd_status_name(st), err.msg);
	assert_int_equal(count, n);
	for (i = 0; i < n; i++) {
		if (w[i].display)
			assert_string_equal(l[i].display, w[i].display);
		else
			assert_null(l[i].display);
		assert_string_equal(l[i].addr, w[i].addr);
	}
	hd_mailbox_list_free(l, count);
}

static void parse_bad(const char *s, size_t len, hd_status want,
		      const char *msg)
{
	hd_mailbox *l = (hd_mailbox *)1;
	size_t count = 99;
	hd_error err;
	hd_status st;

	hd_error_clear(&err);
	st = hd_mailbox_list_parse(s, len, &l, &count, &err);
	if (st != want)
		fail_msg("\"%.*s\": %s (%s), want %s", (int)len, s,
			 hd_status_name(st), err.msg, hd_status_name(want));
	assert_null(l);
	assert_int_equal(count, 0);
	assert_int_equal(err.code, want);
	if (msg)
		assert_string_equal(err.msg, msg);
}

#define BAD(lit, st, msg) parse_bad(lit, sizeof(lit) - 1, st, msg)

static void mailbox_lists(void **state)
{
	(void)state;
	{
		const struct want w[] = {{"Ann", "a@b.example"},
					 {"Doe, John", "j@d.example"}};
		parse_ok("Ann <a@b.example>, \"Doe, John\" <j@d.example>", w,
			 2);
	}
	{
		const struct want w[] = {{NULL, "a@b.example"}};
		parse_ok("a@b.example", w, 1);
		parse_ok("  a@b.example\t ", w, 1);
		parse_ok("<a@b.example>", w, 1);
		parse_ok("< a@b.example >", w, 1);
		parse_ok("\"\" <a@b.example>", w, 1);
	}
	{
		const struct want w[] = {{NULL, "a@b.example"},
					 {NULL, "c@d.example"},
					 {"Eve", "e@f.example"}};
		parse_ok("a@b.example,c@d.example ,  Eve<e@f.example>", w, 3);
	}
	{
		const struct want w[] = {
		    {"J\xC3\xB6rg M\xC3\xBCller", "jm@x.example"},
		    {"\xE5\xB1\xB1\xE7\x94\xB0 \xE5\xA4\xAA\xE9\x83\x8E",
		     "t@y.example"},
		    {"\xF0\x9F\x98\x80 Fan", "f@z.example"}};
		parse_ok("J\xC3\xB6rg M\xC3\xBCller <jm@x.example>, "
			 "\"\xE5\xB1\xB1\xE7\x94\xB0 "
			 "\xE5\xA4\xAA\xE9\x83\x8E\" <t@y.example>,"
			 "\xF0\x9F\x98\x80 Fan <f@z.example>",
			 w, 3);
	}
	{
		/* escapes, initials, blanks collapsed, quoted blanks kept */
		const struct want w[] = {{"A \"B\" \\ C", "x@y.example"},
					 {"John Q. Public", "jqp@y.example"},
					 {"Ann Lee", "al@y.example"},
					 {"  two  spaces ", "ts@y.example"},
					 {"Smith, Ann (Sales)", "as@y.example"},
					 {"a:b;c<d>e@f", "q@y.example"}};
		parse_ok("\"A \\\"B\\\" \\\\ C\" <x@y.example>, "
			 "John Q. Public <jqp@y.example>, "
			 "Ann \t  Lee <al@y.example>, "
			 "\"  two  spaces \" <ts@y.example>, "
			 "\"Smith, Ann (Sales)\" <as@y.example>, "
			 "\"a:b;c<d>e@f\" <q@y.example>",
			 w, 6);
	}

	BAD("", HD_EADDRESS, "empty address list");
	BAD("  \t ", HD_EADDRESS, "empty address list");
	parse_bad(NULL, 0, HD_EADDRESS, "empty address list");
	BAD("a@b.example,", HD_EADDRESS, "mailbox 2: empty entry in list");
	BAD("a@b.example, ,c@d.example", HD_EADDRESS,
	    "mailbox 2: empty entry in list");
	BAD(",a@b.example", HD_EADDRESS, "mailbox 1: empty entry in list");
	BAD("team: a@b.example, c@d.example;", HD_EADDRESS,
	    "mailbox 1: group syntax not supported");
	BAD("undisclosed-recipients:;", HD_EADDRESS,
	    "mailbox 1: group syntax not supported");
	BAD("Ann a@b.example", HD_EADDRESS,
	    "mailbox 1: blank inside address (missing comma or <>?)");
	BAD("a@b.example c@d.example", HD_EADDRESS,
	    "mailbox 1: blank inside address (missing comma or <>?)");
	BAD("Ann <a@b.example", HD_EADDRESS,
	    "mailbox 1: missing > after address");
	BAD("Ann <a@b.example> x", HD_EADDRESS,
	    "mailbox 1: text after <address>");
	BAD("Ann <a@b.example> <c@d.example>", HD_EADDRESS,
	    "mailbox 1: text after <address>");
	BAD("\"Ann <a@b.example>", HD_EADDRESS, "mailbox 1: unclosed quote");
	BAD("Ann <>", HD_EADDRESS, "mailbox 1: empty <>");
	BAD("Ann (Sales) <a@b.example>", HD_EADDRESS,
	    "mailbox 1: character '(' in display name needs quotes");
	BAD("Ann@Home <a@b.example>", HD_EADDRESS,
	    "mailbox 1: character '@' in display name needs quotes");
	BAD("Ann <bad>", HD_EADDRESS, "mailbox 1: no @");
	BAD("a@b.example, Bob <b@-x.example>", HD_EADDRESS,
	    "mailbox 2: domain label starts with a hyphen");
	BAD("Ann <\"q\"@x.example>", HD_EADDRESS,
	    "mailbox 1: quoted local part not accepted");
	BAD("Ann <a@[192.0.2.1]>", HD_EADDRESS,
	    "mailbox 1: address literal not accepted");
	BAD("Ann <a@b.example>\r\nBcc: x@y.example", HD_EADDRESS,
	    "line break in address list");
	BAD("Ann\n<a@b.example>", HD_EADDRESS, "line break in address list");
	BAD("Ann\0 <a@b.example>", HD_EADDRESS,
	    "control character in address list");
	BAD("J\xC3 <a@b.example>", HD_EUTF8,
	    "mailbox 1: display name is not valid UTF-8");
	BAD("\"\xED\xA0\x80\" <a@b.example>", HD_EUTF8,
	    "mailbox 1: display name is not valid UTF-8");
	BAD("\xC3\xB6@b.example", HD_EADDRESS,
	    "mailbox 1: non-ASCII address needs SMTPUTF8 (not supported)");
}

static void mailbox_limits(void **state)
{
	char name[400], *big;
	size_t i, n;
	hd_mailbox *l;
	size_t count;

	(void)state;
	memset(name, 'n', 257);
	strcpy(name + 257, " <a@b.example>");
	parse_bad(name, strlen(name), HD_ELIMIT,
		  "mailbox 1: display name longer than 256 bytes");
	memset(name, 'n', 256);
	strcpy(name + 256, " <a@b.example>");
	assert_int_equal(
	    hd_mailbox_list_parse(name, strlen(name), &l, &count, NULL), HD_OK);
	assert_int_equal(strlen(l[0].display), 256);
	hd_mailbox_list_free(l, count);

	/* 1000 mailboxes are fine, 1001 are not */
	big = malloc(1001 * 8 + 1);
	assert_non_null(big);
	for (i = 0, n = 0; i < 1001; i++) {
		memcpy(big + n, "a@b.xy,", 7);
		n += 7;
	}
	big[n - 1] = '\0';
	n--;
	assert_int_equal(hd_mailbox_list_parse(big, n, &l, &count, NULL),
			 HD_ELIMIT);
	assert_int_equal(hd_mailbox_list_parse(big, n - 7, &l, &count, NULL),
			 HD_OK);
	assert_int_equal(count, 1000);
	assert_string_equal(l[999].addr, "a@b.xy");
	hd_mailbox_list_free(l, count);
	free(big);

	big = malloc(HD_MAILBOX_LIST_INPUT_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', HD_MAILBOX_LIST_INPUT_MAX + 1);
	memcpy(big, "a@b.xy", 6);
	assert_int_equal(hd_mailbox_list_parse(big,
					       HD_MAILBOX_LIST_INPUT_MAX + 1,
					       &l, &count, NULL),
			 HD_ELIMIT);
	assert_int_equal(hd_mailbox_list_parse(big, HD_MAILBOX_LIST_INPUT_MAX,
					       &l, &count, NULL),
			 HD_OK);
	hd_mailbox_list_free(l, count);
	free(big);
	hd_mailbox_list_free(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(address_cases),
	    cmocka_unit_test(mailbox_lists),
	    cmocka_unit_test(mailbox_limits),
	};
	const struct CMUnitTest corpus[] = {
	    cmocka_unit_test(isemail_corpus),
	};
	int rc = cmocka_run_group_tests_name("address", tests, NULL, NULL);

	if (rc)
		return rc;
	if (!find_corpus()) {
		fprintf(stderr,
			"SKIPPED: isemail corpus not found in %s "
			"(set HERALD_TESTDATA)\n",
			corpus_dir);
		return 77;
	}
	return cmocka_run_group_tests_name("isemail", corpus, NULL, NULL);
}
