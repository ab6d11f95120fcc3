/* test_report.c — JSONL and CSV reports, formula neutralisation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "buf.h"
#include "report.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, 65535, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void jsonl_line_has_every_field(void **state)
{
	char path[] = "/tmp/herald-report-XXXXXX.jsonl";
	int fd = mkstemps(path, 6);
	hd_report *r;
	hd_report_row row = {0};
	json_t *o;
	json_error_t je;
	char *text;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(hd_report_open(path, &r, NULL), HD_OK);
	row.row = 12;
	row.key = "ann@example.com";
	row.status = HD_ROW_FAILED;
	row.attempts = 4;
	row.code = 451;
	row.response = "4.7.1 try later";
	row.error = "SMTP 451";
	row.failure = "transient";
	row.ms = 84;
	row.at = 1795787110.123;
	row.message_id = "<x@y>";
	assert_int_equal(hd_report_write(r, &row), HD_OK);
	assert_int_equal(hd_report_close(r, NULL), HD_OK);
	text = slurp(path);
	o = json_loads(text, 0, &je);
	assert_non_null(o);
	assert_int_equal(json_integer_value(json_object_get(o, "row")), 12);
	assert_string_equal(json_string_value(json_object_get(o, "key")),
			    "ann@example.com");
	assert_string_equal(json_string_value(json_object_get(o, "status")),
			    "failed");
	assert_int_equal(json_integer_value(json_object_get(o, "attempts")), 4);
	assert_int_equal(json_integer_value(json_object_get(o, "code")), 451);
	assert_string_equal(json_string_value(json_object_get(o, "failure")),
			    "transient");
	assert_string_equal(json_string_value(json_object_get(o, "at")),
			    "2026-11-27T13:45:10.123Z");
	assert_string_equal(json_string_value(json_object_get(o, "message_id")),
			    "<x@y>");
	json_decref(o);
	free(text);
	unlink(path);
}

static void csv_neutralises_formulas_and_quotes(void **state)
{
	char path[] = "/tmp/herald-report-XXXXXX.csv";
	int fd = mkstemps(path, 4);
	hd_report *r;
	hd_report_row row = {0};
	char *text;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(hd_report_open(path, &r, NULL), HD_OK);
	row.row = 1;
	row.key = "=cmd|' /C calc'!A0";
	row.status = HD_ROW_SENT;
	row.attempts = 1;
	row.response = "said \"hi\", then left";
	row.at = 0;
	assert_int_equal(hd_report_write(r, &row), HD_OK);
	row.row = 2;
	row.key = "@SUM(1)";
	row.response = "+1";
	assert_int_equal(hd_report_write(r, &row), HD_OK);
	assert_int_equal(hd_report_close(r, NULL), HD_OK);
	text = slurp(path);
	assert_string_equal(
	    text,
	    "row,key,status,attempts,code,response,error,failure,ms,at,"
	    "message_id\n"
	    "1,'=cmd|' /C calc'!A0,sent,1,,\"said \"\"hi\"\", then left\",,,0,"
	    "1970-01-01T00:00:00.000Z,\n"
	    "2,'@SUM(1),sent,1,,'+1,,,0,1970-01-01T00:00:00.000Z,\n");
	free(text);
	unlink(path);
}

static void uncreatable_report_is_ecreate(void **state)
{
	hd_report *r = NULL;
	hd_error e;

	(void)state;
	assert_int_equal(hd_report_open("/nonexistent/dir/r.jsonl", &r, &e),
			 HD_ECREATE);
	assert_null(r);
	assert_string_equal(e.file, "/nonexistent/dir/r.jsonl");
	assert_int_equal(hd_report_close(NULL, NULL), HD_OK);
}

static void status_names_round_trip(void **state)
{
	(void)state;
	for (int s = HD_ROW_SENT; s <= HD_ROW_UNCERTAIN; s++)
		assert_int_equal(
		    hd_row_status_parse(hd_row_status_name((hd_row_status)s)),
		    s);
	assert_string_equal(hd_row_status_name(HD_ROW_NOT_ATTEMPTED),
			    "not-attempted");
	assert_int_equal(hd_row_status_parse("nope"), 0);
}

/* Timestamps keep their second and millisecond when the second they
 * fall in was formatted just before (the date part is remembered). */
static void timestamps_follow_the_clock(void **state)
{
	static const struct {
		double t;
		const char *want;
	} cases[] = {
	    {1796634000.0, "2026-12-07T09:00:00.000Z"},
	    {1796634000.25, "2026-12-07T09:00:00.250Z"},
	    {1796634000.9996, "2026-12-07T09:00:00.999Z"},
	    {1796634001.5, "2026-12-07T09:00:01.500Z"},
	    {1796634000.007, "2026-12-07T09:00:00.007Z"},
	    {0.0, "1970-01-01T00:00:00.000Z"},
	    {1796634001.042, "2026-12-07T09:00:01.042Z"},
	};
	char at[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hd_format_timestamp(cases[i].t, at);
		assert_string_equal(at, cases[i].want);
	}
}

/* Numbers are written as printf's %ld writes them, the extremes too. */
static void numbers_as_printf_writes_them(void **state)
{
	static const long cases[] = {0,	 7,	   -7,	     10,
				     99, 100,	   204,	     12345678,
				     -1, LONG_MAX, LONG_MIN, LONG_MIN + 1};
	hd_buf b = HD_BUF_INIT;
	char want[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hd_buf_reset(&b);
		assert_int_equal(hd_buf_puts(&b, "n="), HD_OK);
		assert_int_equal(hd_buf_put_long(&b, cases[i]), HD_OK);
		snprintf(want, sizeof(want), "n=%ld", cases[i]);
		assert_string_equal(b.data, want);
		assert_int_equal(b.len, strlen(want));
	}
	hd_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(jsonl_line_has_every_field),
	    cmocka_unit_test(csv_neutralises_formulas_and_quotes),
	    cmocka_unit_test(uncreatable_report_is_ecreate),
	    cmocka_unit_test(status_names_round_trip),
	    cmocka_unit_test(timestamps_follow_the_clock),
	    cmocka_unit_test(numbers_as_printf_writes_them),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
