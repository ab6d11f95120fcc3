/* test_error.c — hd_error and what herald prints of it (lib/error.c):
 * one printable line whatever the input put into the message, and no
 * place left over from an earlier error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "herald.h"

static void printable(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"plain text", "plain text"},
	    {"a\nb\r\nc\td", "a\\nb\\r\\nc\\td"},
	    {"\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"},
	    {"del\x7f", "del\\x7f"},
	    {"Zo\xc3\xab \xf0\x9f\x8e\x89", "Zo\xc3\xab \xf0\x9f\x8e\x89"},
	    /* C1 controls: U+009B is a CSI to some terminals */
	    {"\xc2\x9b"
	     "31m",
	     "\\xc2\\x9b31m"},
	    {"\xc2\xa0nbsp", "\xc2\xa0nbsp"},
	    /* not UTF-8: overlong, surrogate, cut short, stray */
	    {"\xc0\xaf", "\\xc0\\xaf"},
	    {"\xed\xa0\x80", "\\xed\\xa0\\x80"},
	    {"end\xe2\x82", "end\\xe2\\x82"},
	    {"\xff", "\\xff"},
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = hd_printable(out, sizeof(out), cases[i].in);
		assert_string_equal(out, cases[i].out);
		assert_int_equal(n, strlen(cases[i].out));
	}
}

static void printable_cut(void **state)
{
	char out[8];

	(void)state;
	/* an escape or a character is never cut in half */
	assert_int_equal(hd_printable(out, sizeof(out), "abcde\n"), 7);
	assert_string_equal(out, "abcde\\n");
	assert_int_equal(hd_printable(out, 7, "abcde\n"), 7);
	assert_string_equal(out, "abcde");
	assert_int_equal(hd_printable(out, sizeof(out), "abcde\xc3\xab"), 7);
	assert_string_equal(out, "abcde\xc3\xab");
	assert_int_equal(hd_printable(out, 7, "abcde\xc3\xab"), 7);
	assert_string_equal(out, "abcde");
	assert_int_equal(hd_printable(NULL, 0, "x\n"), 3);
}

static void format_is_one_line(void **state)
{
	hd_error e;
	char line[256];

	(void)state;
	hd_error_set(&e, HD_EPARSE, "list\n.csv", 3, 4,
		     "duplicate header name '%s'", "a\nb\x1b[2J");
	hd_error_set_field(&e, "a\nb");
	e.row = 2;
	hd_error_format(&e, line, sizeof(line));
	assert_string_equal(line,
			    "list\\n.csv:3:4: row 2: field 'a\\nb': duplicate "
			    "header name 'a\\nb\\x1b[2J'");
}

static void set_clears_the_place(void **state)
{
	hd_error e;

	(void)state;
	hd_error_set(&e, HD_EMISSING, "t.eml", 4, 2, "no value");
	hd_error_set_field(&e, "name");
	e.row = 17;
	/* a later error with no row or field of its own */
	hd_error_set(&e, HD_ELIMIT, "p0", 1, 1, "more than 1024 partials");
	assert_int_equal(e.row, 0);
	assert_string_equal(e.field, "");
	assert_int_equal(e.code, HD_ELIMIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(printable),
	    cmocka_unit_test(printable_cut),
	    cmocka_unit_test(format_is_one_line),
	    cmocka_unit_test(set_clears_the_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
