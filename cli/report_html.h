/*
 * report_html.h — the summary of a report as one self-contained HTML page:
 * inline CSS and an inline SVG timeline, no script, nothing fetched.
 *
 * Every figure sits in an element a program can find (id and data-*
 * attributes), so a test in a real browser can read back what the page
 * shows: tr[data-status=S] td.n (rows by status), #attempts .n,
 * #latency td[data-q] (p50, p95, p99, max), and in the timeline one
 * rect.sent / rect.failed per column with data-n (rows in it).
 */
#ifndef HERALD_CLI_REPORT_HTML_H
#define HERALD_CLI_REPORT_HTML_H

#include "report_stats.h"

/* Builds the page for the report named title into a malloc'd string
 * (*len bytes); NULL when out of memory. */
char *report_html(const char *title, const hd_report_stats *s, size_t slowest,
		  size_t *len);

#endif
