/* report_cmd.c — herald report. */
#include "report_cmd.h"
#include "report_html.h"
#include "summary.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_SLOWEST 10

static int print_error(const hd_error *err, int code)
{
	char line[1200];

	hd_error_format(err, line, sizeof(line));
	fprintf(stderr, "herald: %s\n", line);
	return code;
}

/* 1 when a and b name the same file (the page would overwrite its own
 * input). */
static int same_file(const char *a, const char *b)
{
	struct stat x, y;

	return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev &&
	       x.st_ino == y.st_ino;
}

/* Writes the page next to its final name, then renames it there, so a
 * reader never sees half a page. */
static int write_page(const char *path, const char *data, size_t len)
{
	size_t n = strlen(path) + 16;
	char *tmp = malloc(n);
	FILE *fp;
	int bad;

	if (!tmp)
		return 70;
	snprintf(tmp, n, "%s.tmp%ld", path, (long)getpid());
	fp = fopen(tmp, "w");
	if (!fp) {
		fprintf(stderr, "herald: %s: cannot create the page: %s\n",
			path, strerror(errno));
		free(tmp);
		return 73;
	}
	bad = fwrite(data, 1, len, fp) != len;
	bad |= fclose(fp) != 0;
	if (bad || rename(tmp, path) != 0) {
		fprintf(stderr, "herald: %s: writing the page failed: %s\n",
			path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return 73;
	}
	free(tmp);
	return 0;
}

int report_command(const struct options *o)
{
	size_t slowest = o->slowest < 0	  ? 0
			 : o->slowest > 0 ? (size_t)o->slowest
					  : DEFAULT_SLOWEST;
	hd_report_reader *rd = NULL;
	hd_report_stats *s = NULL;
	hd_report_row row;
	hd_error err;
	hd_status st;
	int rc = 0;

	if (o->html_path && strcmp(o->report_input, "-") &&
	    same_file(o->report_input, o->html_path)) {
		fprintf(stderr,
			"herald: --html %s is the report itself; herald never "
			"writes over an input\n",
			o->html_path);
		return 64;
	}
	hd_error_clear(&err);
	st = hd_report_reader_open(o->report_input, &rd, &err);
	if (st != HD_OK)
		return print_error(&err, st == HD_ENOENT ? 66 : 70);
	if (hd_report_stats_new(slowest, &s) != HD_OK) {
		hd_report_reader_free(rd);
		fprintf(stderr, "herald: out of memory\n");
		return 70;
	}
	while ((st = hd_report_reader_next(rd, &row, &err)) == HD_OK && row.row)
		hd_report_stats_add(s, &row);
	hd_report_reader_free(rd);
	if (st != HD_OK) {
		hd_report_stats_free(s);
		return print_error(&err,
				   st == HD_ENOMEM || st == HD_EIO ? 70 : 65);
	}
	printf("%s: ", o->report_input);
	summary_counts(stdout, s, 0);
	putchar('\n');
	summary_details(stdout, "", s, slowest, 1);
	if (fflush(stdout) != 0)
		rc = 73;
	if (rc == 0 && o->html_path) {
		size_t len;
		char *page = report_html(o->report_input, s, slowest, &len);
		if (!page) {
			fprintf(stderr, "herald: out of memory\n");
			rc = 70;
		} else {
			rc = write_page(o->html_path, page, len);
			free(page);
		}
	}
	hd_report_stats_free(s);
	return rc;
}
