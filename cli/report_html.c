/* report_html.c — the report summary as one self-contained HTML page. */
#include "report_html.h"
#include "buf.h"
#include "escape.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHART_W 900
#define CHART_H 260
#define PAD_L 56 /* room for the y labels */
#define PAD_B 36 /* room for the x labels */
#define PAD_T 12
#define COLUMNS_MAX 600 /* timeline columns drawn */

struct page {
	hd_buf b;
	int oom;
};

HD_PRINTF(2, 3)
static void out(struct page *p, const char *fmt, ...)
{
	va_list ap;
	char small[512], *big = NULL;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= sizeof(small)) {
		big = malloc((size_t)n + 1);
		if (big) {
			va_start(ap, fmt);
			vsnprintf(big, (size_t)n + 1, fmt, ap);
			va_end(ap);
		}
	}
	if (n < 0 || ((size_t)n >= sizeof(small) && !big) ||
	    hd_buf_append(&p->b, big ? big : small, (size_t)n) != HD_OK)
		p->oom = 1;
	free(big);
}

/* Text from data (keys, replies, file names), HTML-escaped. */
static void text(struct page *p, const char *s)
{
	if (!s)
		return;
	if (hd_escape_html(&p->b, s, strlen(s), NULL) != HD_OK &&
	    hd_buf_puts(&p->b, "(invalid UTF-8)") != HD_OK)
		p->oom = 1;
}

static void clock_text(struct page *p, double t, const char *fmt)
{
	char s[40];
	time_t secs = (time_t)t;
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(s, sizeof(s), fmt, &tm);
	out(p, "%s", s);
}

static const char style[] =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;"
    "color:#1d2330;background:#f6f7f9;margin:0;padding:24px}"
    "main{max-width:960px;margin:auto}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}"
    "p.file{color:#5b6474;margin:0 0 16px;word-break:break-all}"
    "section{background:#fff;border:1px solid #dde1e7;border-radius:8px;"
    "padding:4px 18px 16px;margin-bottom:16px}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:4px 10px 4px 0;border-bottom:1px solid "
    "#eceef2;vertical-align:top}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;"
    "white-space:nowrap}"
    "td.t{word-break:break-all}"
    ".cards{display:flex;flex-wrap:wrap;gap:10px}"
    ".card{flex:1 1 120px;border:1px solid #eceef2;border-radius:6px;"
    "padding:8px 10px}"
    ".card b{display:block;font-size:20px}"
    ".sent{fill:#2e8b57}.failed{fill:#d64545}"
    "span.sent{color:#2e8b57}span.failed{color:#d64545}"
    "svg text{font-size:11px;fill:#5b6474}"
    "svg .axis{stroke:#9aa3b0;stroke-width:1}"
    ".none{color:#5b6474}";

/* The statuses in the order the page lists them. */
static const hd_row_status order[] = {
    HD_ROW_SENT,	  HD_ROW_FAILED,    HD_ROW_INVALID, HD_ROW_SKIPPED,
    HD_ROW_NOT_ATTEMPTED, HD_ROW_UNCERTAIN, HD_ROW_DRY_RUN,
};

static void counts(struct page *p, const hd_report_stats *s)
{
	out(p, "<section id=\"counts\"><h2>Rows by status</h2><table>"
	       "<tr><th>status</th><th class=\"n\">rows</th>"
	       "<th class=\"n\">share</th></tr>");
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		long n = s->by_status[order[i]];
		const char *name = hd_row_status_name(order[i]);
		out(p,
		    "<tr data-status=\"%s\"><td>%s</td><td class=\"n\">%ld"
		    "</td><td class=\"n\">%.1f%%</td></tr>",
		    name, name, n,
		    s->rows ? 100.0 * (double)n / (double)s->rows : 0.0);
	}
	out(p,
	    "<tr data-status=\"total\"><th>total</th><td class=\"n\">%ld"
	    "</td><td></td></tr></table>",
	    s->rows);
	out(p,
	    "<p id=\"attempts\">Attempts: <span class=\"n\">%ld</span> for "
	    "<span class=\"attempted\">%ld</span> attempted rows",
	    s->attempts, s->attempted);
	if (s->attempted)
		out(p, " (%.2f each)",
		    (double)s->attempts / (double)s->attempted);
	out(p, ".</p></section>");
}

static void latency(struct page *p, const hd_report_stats *s)
{
	static const struct {
		const char *label;
		double q;
	} qs[] = {{"p50", 0.50}, {"p95", 0.95}, {"p99", 0.99}};

	out(p, "<section id=\"latency\"><h2>Latency</h2>");
	if (!s->attempted) {
		out(p, "<p class=\"none\">No row was attempted.</p></section>");
		return;
	}
	out(p, "<div class=\"cards\">");
	for (size_t i = 0; i < 3; i++)
		out(p,
		    "<div class=\"card\">%s<b><span class=\"v\" "
		    "data-q=\"%s\">%ld</span> ms</b></div>",
		    qs[i].label, qs[i].label,
		    hd_report_stats_percentile(s, qs[i].q));
	out(p,
	    "<div class=\"card\">max<b><span class=\"v\" data-q=\"max\">%ld"
	    "</span> ms</b></div></div><p>Time spent per attempted row, all "
	    "its attempts together (the report's <code>ms</code>).</p>"
	    "</section>",
	    s->max_ms);
}

/* The timeline: one column per group of bins, sent below failed. */
static void timeline(struct page *p, const hd_report_stats *s)
{
	size_t cols, per;
	double colsecs, ymax = 0, plot_w = CHART_W - PAD_L - 8,
			plot_h = CHART_H - PAD_T - PAD_B, bw;

	out(p, "<section id=\"timeline\"><h2>Timeline</h2>");
	if (!s->used) {
		out(p, "<p class=\"none\">No row was sent or failed with a "
		       "time.</p></section>");
		return;
	}
	per = (s->used + COLUMNS_MAX - 1) / COLUMNS_MAX;
	cols = (s->used + per - 1) / per;
	colsecs = s->width * (double)per;
	for (size_t c = 0; c < cols; c++) {
		double n = 0;
		for (size_t i = c * per; i < (c + 1) * per && i < s->used; i++)
			n += (double)(s->sent_bins[i] + s->failed_bins[i]);
		if (n / colsecs > ymax)
			ymax = n / colsecs;
	}
	if (ymax <= 0)
		ymax = 1;
	bw = plot_w / (double)cols;
	out(p,
	    "<p><span class=\"sent\">&#9632; sent</span> &nbsp; <span "
	    "class=\"failed\">&#9632; failed</span> &nbsp; rows per second, "
	    "each column %g s</p>",
	    colsecs);
	out(p,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
	    "width=\"100%%\" role=\"img\" aria-label=\"sent and failed rows "
	    "per second\">",
	    CHART_W, CHART_H);
	for (int t = 0; t <= 2; t++) {
		double y = PAD_T + plot_h - plot_h * t / 2.0;
		out(p,
		    "<line class=\"axis\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" "
		    "y2=\"%.1f\" opacity=\"%s\"/><text x=\"%d\" y=\"%.1f\" "
		    "text-anchor=\"end\">%.3g</text>",
		    PAD_L, y, CHART_W - 8, y, t ? "0.3" : "1", PAD_L - 6, y + 4,
		    ymax * t / 2.0);
	}
	for (size_t c = 0; c < cols; c++) {
		long ns = 0, nf = 0;
		double x = PAD_L + bw * (double)c, hs, hf,
		       start = s->t0 + colsecs * (double)c;
		for (size_t i = c * per; i < (c + 1) * per && i < s->used;
		     i++) {
			ns += s->sent_bins[i];
			nf += s->failed_bins[i];
		}
		if (!ns && !nf)
			continue;
		hs = plot_h * ((double)ns / colsecs) / ymax;
		hf = plot_h * ((double)nf / colsecs) / ymax;
		out(p, "<g><title>");
		clock_text(p, start, "%H:%M:%S");
		out(p, " UTC, %g s: %ld sent, %ld failed</title>", colsecs, ns,
		    nf);
		out(p,
		    "<rect class=\"sent\" data-n=\"%ld\" x=\"%.2f\" "
		    "y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>",
		    ns, x, PAD_T + plot_h - hs, bw > 1.5 ? bw - 0.5 : bw, hs);
		out(p,
		    "<rect class=\"failed\" data-n=\"%ld\" x=\"%.2f\" "
		    "y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/></g>",
		    nf, x, PAD_T + plot_h - hs - hf, bw > 1.5 ? bw - 0.5 : bw,
		    hf);
	}
	out(p, "<text x=\"%d\" y=\"%d\">", PAD_L, CHART_H - 12);
	clock_text(p, s->t0, "%Y-%m-%d %H:%M:%S UTC");
	out(p,
	    "</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\">+%g s"
	    "</text></svg></section>",
	    CHART_W - 8, CHART_H - 12, colsecs * (double)cols);
}

static void groups(struct page *p, const char *id, const char *title,
		   const char *what, const hd_stats_grouping *g)
{
	hd_stats_group top[20];
	size_t n = hd_report_stats_groups(g, top, 20);

	out(p, "<section id=\"%s\"><h2>%s</h2>", id, title);
	if (!n) {
		out(p, "<p class=\"none\">No failed or uncertain rows.</p>"
		       "</section>");
		return;
	}
	out(p,
	    "<table><tr><th class=\"n\">rows</th><th>%s</th><th "
	    "class=\"n\">first row</th><th>its error</th></tr>",
	    what);
	for (size_t i = 0; i < n; i++) {
		out(p, "<tr><td class=\"n\">%ld", top[i].count);
		if (top[i].over)
			out(p, " (at most %ld too many)", top[i].over);
		out(p, "</td><td class=\"t\">");
		text(p, top[i].name);
		out(p, "</td><td class=\"n\">%ld</td><td class=\"t\">",
		    top[i].first_row);
		text(p, top[i].sample);
		out(p, "</td></tr>");
	}
	out(p, "</table>");
	if (g->n > n)
		out(p, "<p>... and %zu more.</p>", g->n - n);
	out(p, "</section>");
}

static void slowest_rows(struct page *p, const hd_report_stats *s, size_t want)
{
	hd_stats_slow *top;
	size_t n;

	if (!want)
		return;
	out(p, "<section id=\"slowest\"><h2>Slowest rows</h2>");
	top = malloc(sizeof(*top) * want);
	n = top ? hd_report_stats_slowest(s, top, want) : 0;
	if (!n) {
		out(p, "<p class=\"none\">No row was attempted.</p></section>");
		free(top);
		return;
	}
	out(p, "<table><tr><th class=\"n\">ms</th><th class=\"n\">row</th>"
	       "<th>status</th><th class=\"n\">code</th><th>key</th>"
	       "<th>error</th></tr>");
	for (size_t i = 0; i < n; i++) {
		out(p,
		    "<tr><td class=\"n\">%ld</td><td class=\"n\">%ld</td>"
		    "<td>%s</td><td class=\"n\">",
		    top[i].ms, top[i].row, hd_row_status_name(top[i].status));
		if (top[i].code)
			out(p, "%ld", top[i].code);
		out(p, "</td><td class=\"t\">");
		text(p, top[i].key);
		out(p, "</td><td class=\"t\">");
		text(p, top[i].error);
		out(p, "</td></tr>");
	}
	out(p, "</table></section>");
	free(top);
}

char *report_html(const char *title, const hd_report_stats *s, size_t slowest,
		  size_t *len)
{
	struct page p = {HD_BUF_INIT, 0};

	out(&p, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
		"charset=\"utf-8\"><meta name=\"viewport\" "
		"content=\"width=device-width, initial-scale=1\">"
		"<title>herald report: ");
	text(&p, title);
	if (hd_buf_puts(&p.b, "</title><style>") != HD_OK ||
	    hd_buf_puts(&p.b, style) != HD_OK)
		p.oom = 1;
	out(&p, "</style></head><body><main><h1>herald report</h1>"
		"<p class=\"file\">");
	text(&p, title);
	if (s->first_at > 0) {
		out(&p, " &middot; ");
		clock_text(&p, s->first_at, "%Y-%m-%d %H:%M:%S");
		out(&p, " to ");
		clock_text(&p, s->last_at, "%Y-%m-%d %H:%M:%S UTC");
	}
	out(&p, " &middot; herald %s</p>", HD_VERSION);
	counts(&p, s);
	latency(&p, s);
	timeline(&p, s);
	groups(&p, "errors-code", "Errors by code", "code", &s->by_code);
	groups(&p, "errors-domain", "Errors by recipient domain or host",
	       "domain", &s->by_domain);
	slowest_rows(&p, s, slowest);
	out(&p, "</main></body></html>\n");
	if (p.oom) {
		hd_buf_free(&p.b);
		return NULL;
	}
	return hd_buf_detach(&p.b, len);
}
