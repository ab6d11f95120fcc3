/* test_report_read.c — reading reports back: what the writer wrote comes
 * back exactly, in JSONL and CSV; malformed lines name file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh temporary path with this suffix; the caller unlinks it. */
static char *temp_path(const char *suffix)
{
	char *p = malloc(64);
	int fd;

	snprintf(p, 64, "/tmp/herald-rr-XXXXXX%s", suffix);
	fd = mkstemps(p, (int)strlen(suffix));
	assert_true(fd >= 0);
	close(fd);
	return p;
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void assert_str_or_null(const char *got, const char *want)
{
	if (!want)
		assert_null(got);
	else {
		assert_non_null(got);
		assert_string_equal(got, want);
	}
}

/* Values a spreadsheet would run, quotes, line breaks, commas, UTF-8. */
static const char *const tricky[] = {
    "=HYPERLINK(\"http://x\")",
    "+1 555",
    "-2",
    "@SUM(A1)",
    "\tTAB first",
    "\rCR first",
    "plain, with a comma",
    "two\nlines",
    "a \"quoted\" word",
    "caf\xc3\xa9 \xe2\x82\xac",
    "ends with apostrophe'",
};
#define NTRICKY (sizeof(tricky) / sizeof(tricky[0]))

static void round_trip(const char *suffix)
{
	char *path = temp_path(suffix);
	hd_report *w;
	hd_report_reader *r;
	hd_report_row row;
	hd_error e;

	assert_int_equal(hd_report_open(path, &w, NULL), HD_OK);
	for (size_t i = 0; i < NTRICKY; i++) {
		hd_report_row out = {0};
		out.row = (long)i + 1;
		out.key = tricky[i];
		out.status = i % 2 ? HD_ROW_FAILED : HD_ROW_SENT;
		out.attempts = (int)i + 1;
		out.code = i % 2 ? 550 : 0;
		out.response = tricky[(i + 1) % NTRICKY];
		out.error = i % 2 ? tricky[(i + 2) % NTRICKY] : NULL;
		out.failure = i % 2 ? "permanent" : NULL;
		out.ms = (long)i * 1000 + 7;
		out.at = 1795787110.0 + (double)i + 0.125;
		out.message_id = i % 3 ? "<m@x>" : NULL;
		assert_int_equal(hd_report_write(w, &out), HD_OK);
	}
	assert_int_equal(hd_report_close(w, NULL), HD_OK);

	assert_int_equal(hd_report_reader_open(path, &r, &e), HD_OK);
	for (size_t i = 0; i < NTRICKY; i++) {
		assert_int_equal(hd_report_reader_next(r, &row, &e), HD_OK);
		assert_int_equal(row.row, (long)i + 1);
		assert_string_equal(row.key, tricky[i]);
		assert_int_equal(row.status,
				 i % 2 ? HD_ROW_FAILED : HD_ROW_SENT);
		assert_int_equal(row.attempts, (int)i + 1);
		assert_int_equal(row.code, i % 2 ? 550 : 0);
		assert_string_equal(row.response, tricky[(i + 1) % NTRICKY]);
		assert_str_or_null(row.error,
				   i % 2 ? tricky[(i + 2) % NTRICKY] : NULL);
		assert_str_or_null(row.failure, i % 2 ? "permanent" : NULL);
		assert_int_equal(row.ms, (long)i * 1000 + 7);
		assert_true(fabs(row.at - (1795787110.0 + (double)i + 0.125)) <
			    0.0015);
		assert_str_or_null(row.message_id, i % 3 ? "<m@x>" : NULL);
	}
	assert_int_equal(hd_report_reader_next(r, &row, &e), HD_OK);
	assert_int_equal(row.row, 0);
	assert_int_equal(row.status, 0);
	/* the end stays the end */
	assert_int_equal(hd_report_reader_next(r, &row, &e), HD_OK);
	assert_int_equal(row.row, 0);
	hd_report_reader_free(r);
	unlink(path);
	free(path);
}

static void jsonl_round_trip(void **state)
{
	(void)state;
	round_trip(".jsonl");
}

static void csv_round_trip_undoes_the_formula_guard(void **state)
{
	(void)state;
	round_trip(".csv");
}

/* The apostrophe rule on cells written by hand: one apostrophe before a
 * formula character or another apostrophe goes; others stay. */
static void csv_apostrophes(void **state)
{
	char *path = temp_path(".csv");
	hd_report_reader *r;
	hd_report_row row;

	(void)state;
	write_file(path,
		   "row,key,status,attempts,code,response,error,failure,ms,"
		   "at,message_id\n"
		   "1,'=A1,sent,1,250,'-x,'@y,,5,2026-11-27T13:45:10.123Z,"
		   "'+z\n"
		   "2,''quoted,sent,1,,'plain,'',,5,,\n"
		   "3,',sent,0,,,,,0,,\n");
	assert_int_equal(hd_report_reader_open(path, &r, NULL), HD_OK);
	assert_int_equal(hd_report_reader_next(r, &row, NULL), HD_OK);
	assert_string_equal(row.key, "=A1");
	assert_string_equal(row.response, "-x");
	assert_string_equal(row.error, "@y");
	assert_string_equal(row.message_id, "+z");
	assert_null(row.failure);
	assert_int_equal(row.code, 250);
	assert_int_equal(hd_report_reader_next(r, &row, NULL), HD_OK);
	assert_string_equal(row.key, "'quoted");
	assert_string_equal(row.response, "'plain");
	assert_string_equal(row.error, "'");
	assert_int_equal(row.code, 0);
	assert_true(row.at == 0);
	assert_null(row.message_id);
	assert_int_equal(hd_report_reader_next(r, &row, NULL), HD_OK);
	assert_string_equal(row.key, "'");
	assert_int_equal(hd_report_reader_next(r, &row, NULL), HD_OK);
	assert_int_equal(row.row, 0);
	hd_report_reader_free(r);
	unlink(path);
	free(path);
}

/* A CSV report renamed away from .csv is still read as CSV. */
static void csv_by_its_header(void **state)
{
	char *path = temp_path(".txt");
	hd_report_reader *r;
	hd_report_row row;

	(void)state;
	write_file(path, "row,key,status,attempts,code,response,error,failure,"
			 "ms,at,message_id\r\n3,k,dry-run,0,,,,,0,,\r\n");
	assert_int_equal(hd_report_reader_open(path, &r, NULL), HD_OK);
	assert_int_equal(hd_report_reader_next(r, &row, NULL), HD_OK);
	assert_int_equal(row.row, 3);
	assert_int_equal(row.status, HD_ROW_DRY_RUN);
	hd_report_reader_free(r);
	unlink(path);
	free(path);
}

static void expect_parse_error(const char *suffix, const char *text, long line,
			       const char *field, const char *msg)
{
	char *path = temp_path(suffix);
	hd_report_reader *r;
	hd_report_row row;
	hd_error e;
	hd_status st;

	write_file(path, text);
	assert_int_equal(hd_report_reader_open(path, &r, &e), HD_OK);
	do
		st = hd_report_reader_next(r, &row, &e);
	while (st == HD_OK && row.row);
	assert_int_equal(st, HD_EPARSE);
	assert_string_equal(e.file, path);
	assert_int_equal(e.line, line);
	if (field)
		assert_string_equal(e.field, field);
	if (msg && !strstr(e.msg, msg))
		fail_msg("'%s' lacks '%s'", e.msg, msg);
	assert_int_equal(row.row, 0);
	hd_report_reader_free(r);
	unlink(path);
	free(path);
}

static void malformed_lines_name_file_and_line(void **state)
{
	(void)state;
	expect_parse_error(".jsonl",
			   "{\"row\":1,\"status\":\"sent\"}\n"
			   "{\"row\":2,\"status\":\"sent\"\n",
			   2, NULL, NULL);
	expect_parse_error(".jsonl",
			   "{\"row\":1,\"status\":\"sent\"}\n\n"
			   "{\"row\":3,\"status\":\"lost\"}\n",
			   3, "status", "unknown status 'lost'");
	expect_parse_error(".jsonl", "{\"row\":1}\n", 1, "status", "no status");
	expect_parse_error(".jsonl", "{\"status\":\"sent\"}\n", 1, "row",
			   "no row");
	expect_parse_error(".jsonl", "{\"row\":\"x\",\"status\":\"sent\"}\n", 1,
			   "row", "whole number");
	expect_parse_error(".jsonl", "{\"row\":0,\"status\":\"sent\"}\n", 1,
			   "row", NULL);
	expect_parse_error(".jsonl",
			   "{\"row\":1,\"status\":\"sent\",\"ms\":-3}\n", 1,
			   "ms", NULL);
	expect_parse_error(
	    ".jsonl",
	    "{\"row\":1,\"status\":\"sent\",\"at\":\"yesterday\"}"
	    "\n",
	    1, "at", "timestamp");
	expect_parse_error(".jsonl",
			   "{\"row\":1,\"status\":\"sent\",\"key\":5}\n", 1,
			   "key", "not a string");
	expect_parse_error(".csv", "row,key,status\n1,a,sent\n2,b,sent,extra\n",
			   3, NULL, NULL);
	expect_parse_error(".csv", "row,key,status\n1,a,nope\n", 2, "status",
			   NULL);
	expect_parse_error(".csv", "row,key,status,ms\n1,a,sent,12ms\n", 2,
			   "ms", "whole number");
}

/* Fields a later writer adds are passed over; missing ones are 0/NULL. */
static void unknown_fields_are_passed_over(void **state)
{
	char *path = temp_path(".jsonl");
	hd_report_reader *r;
	hd_report_row row;

	(void)state;
	write_file(path, "{\"row\":7,\"status\":\"uncertain\",\"journal\":"
			 "{\"a\":1},\"host\":\"h\"}\n");
	assert_int_equal(hd_report_reader_open(path, &r, NULL), HD_OK);
	assert_int_equal(hd_report_reader_next(r, &row, NULL), HD_OK);
	assert_int_equal(row.row, 7);
	assert_int_equal(row.status, HD_ROW_UNCERTAIN);
	assert_null(row.key);
	assert_int_equal(row.attempts, 0);
	assert_true(row.at == 0);
	hd_report_reader_free(r);
	unlink(path);
	free(path);
}

static void empty_reports_have_no_rows(void **state)
{
	static const struct {
		const char *suffix, *text;
	} cases[] = {
	    {".jsonl", ""},
	    {".jsonl", "\n\n"},
	    {".csv", ""},
	    {".csv", "row,key,status,attempts,code,response,error,failure,ms,"
		     "at,message_id\n"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = temp_path(cases[i].suffix);
		hd_report_reader *r;
		hd_report_row row;
		write_file(path, cases[i].text);
		assert_int_equal(hd_report_reader_open(path, &r, NULL), HD_OK);
		assert_int_equal(hd_report_reader_next(r, &row, NULL), HD_OK);
		assert_int_equal(row.row, 0);
		assert_int_equal(row.status, 0);
		hd_report_reader_free(r);
		unlink(path);
		free(path);
	}
}

static void bad_arguments(void **state)
{
	hd_report_reader *r = (hd_report_reader *)&r;
	hd_report_row row;
	hd_error e;

	(void)state;
	assert_int_equal(hd_report_reader_open(NULL, &r, &e), HD_EINVAL);
	assert_int_equal(hd_report_reader_open("x.jsonl", NULL, &e), HD_EINVAL);
	assert_int_equal(
	    hd_report_reader_open("/nonexistent/dir/r.jsonl", &r, &e),
	    HD_ENOENT);
	assert_null(r);
	assert_string_equal(e.file, "/nonexistent/dir/r.jsonl");
	assert_int_equal(hd_report_reader_next(NULL, &row, &e), HD_EINVAL);
	hd_report_reader_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(jsonl_round_trip),
	    cmocka_unit_test(csv_round_trip_undoes_the_formula_guard),
	    cmocka_unit_test(csv_apostrophes),
	    cmocka_unit_test(csv_by_its_header),
	    cmocka_unit_test(malformed_lines_name_file_and_line),
	    cmocka_unit_test(unknown_fields_are_passed_over),
	    cmocka_unit_test(empty_reports_have_no_rows),
	    cmocka_unit_test(bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
