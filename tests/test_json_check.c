/* test_json_check.c — the JSON body scanner agrees with jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "json_check.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int corpus_missing;

static const struct {
	const char *text;
	size_t len; /* 0: strlen */
	enum hd_json_verdict want;
} cases[] = {
    /* what templates render */
    {"{\"a\": \"b\", \"n\": 5, \"l\": [1, 2.5, true, false, null]}", 0,
     HD_JSON_VALID},
    {" \t\r\n[]\n", 0, HD_JSON_VALID},
    {"{}", 0, HD_JSON_VALID},
    {"\"only a string\"", 0, HD_JSON_VALID},
    {"-0", 0, HD_JSON_VALID},
    {"123456789012345678", 0, HD_JSON_VALID},
    {"{\"k\": \"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9\"}", 0,
     HD_JSON_VALID},
    {"\"\\ud83c\\udf89 Empf\xc3\xa4nger\"", 0, HD_JSON_VALID},
    {"\"\\u0000\"", 0, HD_JSON_VALID}, /* NUL in a value: allowed */
    {"[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]", 0, HD_JSON_VALID},
    /* a value put outside quotes, and other mistakes */
    {"{\"name\": Ann Lee}", 0, HD_JSON_INVALID},
    {"{\"a\": 1,}", 0, HD_JSON_INVALID},
    {"[1 2]", 0, HD_JSON_INVALID},
    {"{\"a\" 1}", 0, HD_JSON_INVALID},
    {"{a: 1}", 0, HD_JSON_INVALID},
    {"[1]]", 0, HD_JSON_INVALID},
    {"[1", 0, HD_JSON_INVALID},
    {"", 0, HD_JSON_INVALID},
    {"  ", 0, HD_JSON_INVALID},
    {"01", 0, HD_JSON_INVALID},
    {"1.", 0, HD_JSON_INVALID},
    {".5", 0, HD_JSON_INVALID},
    {"+1", 0, HD_JSON_INVALID},
    {"-", 0, HD_JSON_INVALID},
    {"1e", 0, HD_JSON_INVALID},
    {"tru", 0, HD_JSON_INVALID},
    {"truex", 0, HD_JSON_INVALID},
    {"\"tab\tinside\"", 0, HD_JSON_INVALID},
    {"\"\\x\"", 0, HD_JSON_INVALID},
    {"\"\\u12\"", 0, HD_JSON_INVALID},
    {"\"\\ud800\"", 0, HD_JSON_INVALID},
    {"\"\\udc00\\ud800\"", 0, HD_JSON_INVALID},
    {"\"\\ud800\\u0041\"", 0, HD_JSON_INVALID},
    {"\"open", 0, HD_JSON_INVALID},
    {"{} {}", 0, HD_JSON_INVALID},
    {"'single'", 0, HD_JSON_INVALID},
    /* jansson's own limits: it decides */
    {"1234567890123456789012", 0, HD_JSON_UNSURE},
    {"1e999", 0, HD_JSON_UNSURE},
    {"{\"k\\u0000\": 1}", 0, HD_JSON_UNSURE},
    {"\"caf\xe9\"", 0, HD_JSON_UNSURE}, /* Latin-1, not UTF-8 */
    {"{}\0", 3, HD_JSON_UNSURE},
};

static int jansson_accepts(const char *s, size_t n)
{
	json_t *v = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

	json_decref(v);
	return v != NULL;
}

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		size_t n = cases[i].len ? cases[i].len : strlen(cases[i].text);
		enum hd_json_verdict v = hd__json_check(cases[i].text, n);

		if (v != cases[i].want)
			fail_msg("case %zu '%s': got %d, want %d", i,
				 cases[i].text, v, cases[i].want);
		/* where the scanner is sure, jansson agrees */
		if (v != HD_JSON_UNSURE &&
		    jansson_accepts(cases[i].text, n) != (v == HD_JSON_VALID))
			fail_msg("case %zu '%s': jansson disagrees", i,
				 cases[i].text);
	}
}

/* Nesting deeper than the scanner goes is jansson's to judge, and never
 * walks off the stack. */
static void test_deep(void **state)
{
	enum { N = 100000 };
	static char deep[2 * N];

	(void)state;
	memset(deep, '[', N);
	memset(deep + N, ']', N);
	assert_int_equal(hd__json_check(deep, sizeof(deep)), HD_JSON_UNSURE);
	assert_int_equal(hd__json_check(deep, N), HD_JSON_UNSURE);
	/* a syntax error before the limit is certain */
	deep[10] = '}';
	assert_int_equal(hd__json_check(deep, sizeof(deep)), HD_JSON_INVALID);
}

/* JSONTestSuite's parsing cases (read in place from HERALD_TESTDATA):
 * wherever the scanner is sure, jansson agrees, and the scanner is sure
 * of every y_ and n_ case but a few. */
static void test_json_test_suite(void **state)
{
	const char *td = getenv("HERALD_TESTDATA");
	char dir[1024], path[2048];
	size_t files = 0, sure = 0;
	struct dirent *d;
	DIR *dp;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/json-test-suite/test_parsing",
		 td && *td ? td : "../shared/testdata");
	if (!(dp = opendir(dir))) {
		corpus_missing = 1;
		fprintf(stderr, "SKIPPED: %s not found (set HERALD_TESTDATA)\n",
			dir);
		return;
	}
	while ((d = readdir(dp)) != NULL) {
		FILE *f;
		char buf[1 << 16];
		size_t n;
		enum hd_json_verdict v;

		if (!strstr(d->d_name, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		assert_non_null(f = fopen(path, "rb"));
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		if (n == sizeof(buf))
			continue; /* the depth bombs: test_deep has them */
		files++;
		v = hd__json_check(buf, n);
		if (v == HD_JSON_UNSURE)
			continue;
		if (d->d_name[0] != 'i')
			sure++;
		if (jansson_accepts(buf, n) != (v == HD_JSON_VALID))
			fail_msg("%s: the scanner says %s, jansson not",
				 d->d_name,
				 v == HD_JSON_VALID ? "valid" : "invalid");
	}
	closedir(dp);
	assert_true(files > 300);
	assert_true(sure > 250);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	    cmocka_unit_test(test_deep),
	    cmocka_unit_test(test_json_test_suite),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	return rc ? rc : corpus_missing ? 77 : 0;
}
