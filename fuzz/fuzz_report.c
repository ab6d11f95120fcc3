/*
 * fuzz_report.c — reading a report back (lib/report_read.c), as herald
 * report and --only-failed do, and the figures made of it
 * (lib/report_stats.c).
 *
 * Input: a flags byte, then the file.  flags bit 0: the file is named
 * r.csv (else r.jsonl; a file starting "row," is read as CSV either way).
 *
 * Promises checked:
 *   - every row read has a row number >= 1 and a known status, and
 *     strings that are NUL-terminated within what was read;
 *   - a failure is HD_EPARSE, HD_EUTF8 or HD_ELIMIT (or HD_ENOMEM), as one
 *     printable line naming the file, and ends the reading;
 *   - reading the file twice gives the same rows and the same verdict;
 *   - the figures take every row without breaking.
 */
#include "fuzz.h"
#include "report.h"
#include "report_stats.h"

#include <stdio.h>
#include <string.h>

/* One pass: rows read, and a hash of what they held; rc the verdict. */
static long read_all(const char *path, unsigned long long *sum, hd_status *rc)
{
	static const hd_status codes[] = {HD_EPARSE, HD_EUTF8, HD_ELIMIT,
					  HD_ENOMEM};
	hd_report_reader *r = NULL;
	hd_report_stats *st = NULL;
	hd_report_row row;
	hd_error err;
	long n = 0;

	*sum = 1469598103934665603ULL;
	*rc = hd_report_reader_open(path, &r, &err);
	FUZZ_ASSERT(*rc == HD_OK, "open failed with %s", hd_status_name(*rc));
	FUZZ_ASSERT(hd_report_stats_new(5, &st) == HD_OK, "no stats");
	for (;;) {
		memset(&row, 0, sizeof(row));
		*rc = hd_report_reader_next(r, &row, &err);
		if (*rc != HD_OK) {
			FUZZ_CHECK_FAILURE(&err, *rc, "next", codes);
			break;
		}
		if (row.row == 0 && row.status == 0)
			break;
		FUZZ_ASSERT(row.row >= 1, "row number %ld", row.row);
		FUZZ_ASSERT(row.status > 0 && row.status <= HD_ROW_UNCERTAIN,
			    "status %d", (int)row.status);
		hd_report_stats_add(st, &row);
		*sum = (*sum ^ (unsigned long long)row.row) * 1099511628211ULL;
		*sum =
		    (*sum ^ (unsigned long long)row.status) * 1099511628211ULL;
		if (row.key)
			for (const char *p = row.key; *p; p++)
				*sum = (*sum ^ (unsigned char)*p) *
				       1099511628211ULL;
		if (row.error)
			*sum ^= strlen(row.error);
		n++;
	}
	hd_report_stats_free(st);
	hd_report_reader_free(r);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long long s1, s2;
	hd_status rc1, rc2;
	const char *path;
	long n1, n2;

	if (size == 0)
		return 0;
	path = fuzz_write(NULL, data[0] & 1 ? "r.csv" : "r.jsonl", data + 1,
			  size - 1);
	n1 = read_all(path, &s1, &rc1);
	n2 = read_all(path, &s2, &rc2);
	FUZZ_ASSERT(n1 == n2 && s1 == s2 && rc1 == rc2,
		    "two readings differ: %ld rows (%s), then %ld (%s)", n1,
		    hd_status_name(rc1), n2, hd_status_name(rc2));
	return 0;
}
