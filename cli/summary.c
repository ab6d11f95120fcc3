/* summary.c — the short summary of a run, in text. */
#include "summary.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void summary_from_run(hd_report_stats *s, const hd_run_stats *rs)
{
	s->rows = rs->done > rs->rows ? rs->done : rs->rows;
	s->by_status[HD_ROW_SENT] = rs->sent;
	s->by_status[HD_ROW_FAILED] = rs->failed;
	s->by_status[HD_ROW_INVALID] = rs->invalid;
	s->by_status[HD_ROW_SKIPPED] = rs->skipped;
	s->by_status[HD_ROW_DRY_RUN] = rs->dry_run;
	s->by_status[HD_ROW_NOT_ATTEMPTED] = rs->not_attempted;
	s->by_status[HD_ROW_UNCERTAIN] = rs->uncertain;
	s->attempts = rs->attempts;
}

/* Prints s as one terminal-safe line piece: control characters (an
 * escape sequence in a key or a server reply) become '?', and at most
 * max bytes, cut on a character boundary; then spaces up to pad
 * columns.  Returns the columns printed. */
static size_t put_padded(FILE *fp, const char *s, size_t max, size_t pad)
{
	size_t n = s ? strlen(s) : 0, cols = 0;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		fputc(c < 0x20 || c == 0x7F ? '?' : c, fp);
		cols += (c & 0xC0) != 0x80;
	}
	if (s && strlen(s) > n) {
		fputs("...", fp);
		cols += 3;
	}
	for (; cols < pad; cols++)
		fputc(' ', fp);
	return cols;
}

static void put_safe(FILE *fp, const char *s, size_t max)
{
	put_padded(fp, s, max, 0);
}

void summary_counts(FILE *fp, const hd_report_stats *s, int dry)
{
	const long *c = s->by_status;

	fprintf(fp, "%ld row%s: ", s->rows, s->rows == 1 ? "" : "s");
	if (dry)
		fprintf(fp, "%ld dry-run, ", c[HD_ROW_DRY_RUN]);
	else
		fprintf(fp, "%ld sent, ", c[HD_ROW_SENT]);
	fprintf(fp, "%ld failed, %ld invalid, %ld skipped, %ld not-attempted",
		c[HD_ROW_FAILED], c[HD_ROW_INVALID], c[HD_ROW_SKIPPED],
		c[HD_ROW_NOT_ATTEMPTED]);
	if (c[HD_ROW_UNCERTAIN])
		fprintf(fp, ", %ld uncertain", c[HD_ROW_UNCERTAIN]);
	if (dry && c[HD_ROW_SENT])
		fprintf(fp, ", %ld sent", c[HD_ROW_SENT]);
	if (!dry && c[HD_ROW_DRY_RUN])
		fprintf(fp, ", %ld dry-run", c[HD_ROW_DRY_RUN]);
	fprintf(fp, "; %ld attempt%s", s->attempts,
		s->attempts == 1 ? "" : "s");
}

static void print_time(FILE *fp, double t)
{
	char out[32];
	time_t secs = (time_t)t;
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(out, sizeof(out), "%Y-%m-%d %H:%M:%S", &tm);
	fputs(out, fp);
}

static void print_groups(FILE *fp, const char *prefix, const char *title,
			 const hd_stats_grouping *g, int samples)
{
	hd_stats_group top[SUMMARY_GROUPS];
	size_t n = hd_report_stats_groups(g, top, SUMMARY_GROUPS), w = 0;

	if (!n)
		return;
	for (size_t i = 0; i < n; i++)
		if (strlen(top[i].name) > w)
			w = strlen(top[i].name);
	if (w > 40)
		w = 40;
	fprintf(fp, "%s%s%s:\n", prefix, title,
		g->overflowed ? " (counts may be high by the figure in [])"
			      : "");
	for (size_t i = 0; i < n; i++) {
		fprintf(fp, "%s  %7ld  ", prefix, top[i].count);
		put_padded(fp, top[i].name, 40, samples ? w : 0);
		if (top[i].over)
			fprintf(fp, " [%ld]", top[i].over);
		if (samples && top[i].sample[0]) {
			fputs("  ", fp);
			put_safe(fp, top[i].sample, 100);
		}
		fprintf(fp, " (first: row %ld)\n", top[i].first_row);
	}
	if (g->n > n)
		fprintf(fp, "%s  ... and %zu more\n", prefix, g->n - n);
}

void summary_details(FILE *fp, const char *prefix, const hd_report_stats *s,
		     size_t slowest, int span_rate)
{
	if (s->attempted) {
		fprintf(fp,
			"%slatency: p50 %ld ms, p95 %ld ms, p99 %ld ms, max "
			"%ld ms over %ld attempted row%s (%.2f attempts "
			"each)\n",
			prefix, hd_report_stats_percentile(s, 0.50),
			hd_report_stats_percentile(s, 0.95),
			hd_report_stats_percentile(s, 0.99), s->max_ms,
			s->attempted, s->attempted == 1 ? "" : "s",
			(double)s->attempts / (double)s->attempted);
	}
	if (s->first_at > 0) {
		double span = s->last_at - s->first_at;
		fprintf(fp, "%stime: ", prefix);
		print_time(fp, s->first_at);
		fputs(" to ", fp);
		print_time(fp, s->last_at);
		fprintf(fp, " UTC (%.1f s", span);
		if (span_rate && span > 0)
			fprintf(fp, ", %.1f rows/s",
				(double)s->attempted / span);
		fputs(")\n", fp);
	}
	print_groups(fp, prefix, "errors by code", &s->by_code, 1);
	print_groups(fp, prefix, "errors by domain", &s->by_domain, 0);
	if (slowest && s->nslow) {
		hd_stats_slow *top = malloc(sizeof(*top) * slowest);
		size_t n = top ? hd_report_stats_slowest(s, top, slowest) : 0;
		fprintf(fp, "%sslowest rows:\n", prefix);
		for (size_t i = 0; i < n; i++) {
			fprintf(fp, "%s  %7ld ms  row %-6ld %-13s ", prefix,
				top[i].ms, top[i].row,
				hd_row_status_name(top[i].status));
			put_safe(fp, top[i].key, 60);
			if (top[i].error[0]) {
				fputs("  ", fp);
				put_safe(fp, top[i].error, 80);
			}
			fputc('\n', fp);
		}
		free(top);
	}
}
