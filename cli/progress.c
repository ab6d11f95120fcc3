/* progress.c — progress line, row logs and the summary on stderr. */
#include "progress.h"
#include "summary.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void progress_init(struct progress *p, int mode_always, int mode_never,
		   int quiet, int verbose, long skip)
{
	int tty = isatty(STDERR_FILENO);
	const char *nc = getenv("NO_COLOR");

	p->bar = !quiet && !mode_never && (mode_always || tty);
	p->color = tty && !(nc && nc[0]);
	p->quiet = quiet;
	p->verbose = verbose;
	p->drawn = 0;
	p->invalid_seen = 0;
	p->nkinds = 0;
	p->invalid_other = 0;
	p->skip_invalid = 0;
	p->first_fail_row = 0;
	p->first_fail[0] = '\0';
	p->skip = skip > 0 ? skip : 0;
	p->nnotes = 0;
	if (hd_report_stats_new(0, &p->rows) != HD_OK)
		p->rows = NULL; /* the summary has its counts anyway */
}

void progress_row(struct progress *p, const hd_report_row *row)
{
	hd_report_stats_add(p->rows, row);
}

void progress_free(struct progress *p)
{
	hd_report_stats_free(p->rows);
	p->rows = NULL;
}

long progress_taken_done(const struct progress *p, const hd_run_stats *s)
{
	/* done counts every row with an outcome, the --skip/--limit ones
	 * too, while total counts only the taken ones.  The rows before
	 * --skip are all reported before the first taken row is; those
	 * after the --limit window only once every taken row is on its
	 * way, so clamping to total covers them */
	long before = p->skip < s->rows ? p->skip : s->rows;
	long n = s->done - before;

	if (n < 0)
		n = 0;
	return n > s->total ? s->total : n;
}

int progress_width(void)
{
	struct winsize ws;
	const char *c = getenv("COLUMNS");
	long n;
	char *end;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (c && *c) {
		n = strtol(c, &end, 10);
		if (!*end && n > 0 && n < 10000)
			return (int)n;
	}
	return 80;
}

int progress_said(const struct progress *p, const char *text)
{
	unsigned n = p->nnotes < PROGRESS_NOTES ? p->nnotes : PROGRESS_NOTES;

	for (unsigned i = 0; text && i < n; i++)
		if (!strcmp(p->notes[i], text))
			return 1;
	return 0;
}

static void clear_line(struct progress *p)
{
	if (p->drawn) {
		fputs("\r\033[K", stderr);
		p->drawn = 0;
	}
}

static void fmt_eta(double secs, char out[32])
{
	long s = (long)(secs + 0.5);

	if (secs < 0 || secs > 360000)
		snprintf(out, 32, "--:--");
	else if (s >= 3600)
		snprintf(out, 32, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60,
			 s % 60);
	else
		snprintf(out, 32, "%ld:%02ld", s / 60, s % 60);
}

/* The progress line, cut to the terminal: "[####    ] 12/100  3.4/s
 * ETA 0:26  failed 1".  The bar goes first when the line is too wide,
 * then the text is cut; the last column stays free so that no terminal
 * wraps the line. */
static void draw(struct progress *p, const hd_run_stats *s)
{
	long done = progress_taken_done(p, s);
	/* the pace of rows that went out, not of rows skipped, refused or
	 * left behind by a stop, which take no time */
	long went = s->sent + s->failed + s->uncertain + s->dry_run;
	double rate = s->elapsed > 0 ? (double)went / s->elapsed : 0;
	double eta = rate > 0 ? (double)(s->total - done) / rate : -1;
	char etas[32], text[160], line[200];
	int room = progress_width() - 1, bar, fill, n, fail_at;

	fmt_eta(eta, etas);
	n = snprintf(text, sizeof(text), "%ld/%ld  %.1f/s  ETA %s  ", done,
		     s->total, rate, etas);
	fail_at = n;
	snprintf(text + n, sizeof(text) - (size_t)n, "failed %ld", s->failed);
	n = (int)strlen(text);
	bar = room - n - 3; /* "[", "] " */
	if (bar > 24)
		bar = 24;
	if (bar >= 8) {
		fill =
		    s->total > 0
			? (int)((double)bar * (double)done / (double)s->total)
			: 0;
		if (fill > bar)
			fill = bar;
		snprintf(line, sizeof(line), "[%.*s%*s] ", fill,
			 "########################", bar - fill, "");
		fail_at += bar + 3;
	} else {
		line[0] = '\0';
	}
	strncat(line, text, sizeof(line) - strlen(line) - 1);
	n = (int)strlen(line); /* ASCII only: bytes are columns */
	if (n > room)
		n = room > 0 ? room : 0;
	fputc('\r', stderr);
	if (s->failed && p->color && fail_at < n) {
		fprintf(stderr, "%.*s\033[31m%.*s\033[0m", fail_at, line,
			n - fail_at, line + fail_at);
	} else {
		fwrite(line, 1, (size_t)n, stderr);
	}
	fputs("\033[K", stderr);
	p->drawn = 1;
}

/* The kind of an invalid row's error: its code, field and message with
 * every run of digits made '#' (the row, a byte offset, a column). */
static void kind_key(const hd_error *e, char *out, size_t size)
{
	size_t n =
	    (size_t)snprintf(out, size, "%d|%s|", (int)e->code, e->field);
	int digits = 0;

	for (const char *c = e->msg; *c && n + 2 < size; c++) {
		int d = *c >= '0' && *c <= '9';
		if (!d)
			out[n++] = *c;
		else if (!digits)
			out[n++] = '#';
		digits = d;
	}
	out[n < size ? n : size - 1] = '\0';
}

static void invalid_row(struct progress *p, const hd_error *e)
{
	char line[1200], key[sizeof(p->kinds[0].key)];
	size_t i;

	hd_error_format(e, line, sizeof(line));
	p->invalid_seen++;
	if (p->verbose) {
		/* -v: every row, as it comes */
		clear_line(p);
		fprintf(stderr, "herald: invalid: %s\n", line);
		return;
	}
	kind_key(e, key, sizeof(key));
	for (i = 0; i < p->nkinds; i++)
		if (!strcmp(p->kinds[i].key, key)) {
			p->kinds[i].count++;
			return;
		}
	if (p->nkinds == INVALID_KINDS) {
		p->invalid_other++;
		return;
	}
	snprintf(p->kinds[i].key, sizeof(p->kinds[i].key), "%s", key);
	snprintf(p->kinds[i].first, sizeof(p->kinds[i].first), "%s", line);
	p->kinds[i].count = 1;
	p->nkinds++;
}

/* -v: a retry or a slow-down, as it happens. */
static void attempt_line(struct progress *p, const hd_event *ev)
{
	const hd_attempt_info *a = ev->attempt;

	if (!p->verbose || !a)
		return;
	clear_line(p);
	if (ev->kind == HD_EVENT_RETRY) {
		fprintf(stderr,
			"herald: retry: row %ld, attempt %d failed: %s; the "
			"next in %.2f s\n",
			a->row, a->attempt, a->reason ? a->reason : "",
			a->wait);
		return;
	}
	fprintf(stderr, "herald: slowing down%s%s: ",
		a->dest && a->dest[0] ? " sends to " : "",
		a->dest ? a->dest : "");
	if (a->rate > 0)
		fprintf(stderr, "at most %.2f sends/s", a->rate);
	if (a->rate > 0 && a->pause > 0)
		fputs(", and ", stderr);
	if (a->pause > 0)
		fprintf(stderr, "every send waits %.1f s first", a->pause);
	fprintf(stderr, " (row %ld, attempt %d: %s)\n", a->row, a->attempt,
		a->reason ? a->reason : "");
}

void progress_event(void *ctx, const hd_event *ev)
{
	struct progress *p = ctx;

	switch (ev->kind) {
	case HD_EVENT_INVALID_ROW:
		invalid_row(p, ev->error);
		break;
	case HD_EVENT_CHECKED:
		/* a run that goes on says its invalid rows now; a refused
		 * one with its verdict, at the end */
		if (p->skip_invalid)
			progress_flush_invalid(p, 0, ev->stats);
		break;
	case HD_EVENT_ROW:
		if (ev->row)
			progress_row(p, ev->row);
		break;
	case HD_EVENT_RETRY:
	case HD_EVENT_SLOW_DOWN:
		attempt_line(p, ev);
		break;
	case HD_EVENT_STEP:
		/* check --connect: each step; -q only the failing one */
		if (!p->quiet || ev->error)
			fprintf(stderr, "herald: %s%s\n",
				ev->error ? "FAILED: " : "", ev->text);
		break;
	case HD_EVENT_FAILED_ROW:
		if (!p->first_fail_row) {
			p->first_fail_row = ev->error->row;
			snprintf(p->first_fail, sizeof(p->first_fail), "%s",
				 ev->error->msg);
		}
		if (p->verbose) {
			clear_line(p);
			fprintf(stderr, "herald: failed: row %ld (%s): %s\n",
				ev->error->row, ev->text ? ev->text : "",
				ev->error->msg);
		}
		break;
	case HD_EVENT_NOTE:
		/* the interrupt notice comes once, whatever asks again */
		if (progress_said(p, ev->text))
			break;
		if (!p->quiet) {
			clear_line(p);
			fprintf(stderr, "herald: %s\n", ev->text);
		}
		snprintf(p->notes[p->nnotes % PROGRESS_NOTES],
			 sizeof(p->notes[0]), "%s", ev->text);
		p->nnotes++;
		break;
	case HD_EVENT_PROGRESS:
		if (p->bar)
			draw(p, ev->stats);
		break;
	}
}

int progress_flush_invalid(struct progress *p, int refused,
			   const hd_run_stats *s)
{
	/* the hint only helps when some taken row would go */
	int some_valid = s && p->invalid_seen < s->total;
	int verdict = refused && p->nkinds == 1 && !p->invalid_other;

	if (p->nkinds || p->invalid_other)
		clear_line(p);
	for (size_t i = 0; i < p->nkinds; i++) {
		long more = p->kinds[i].count - 1;
		const char *sep = " (";
		fprintf(stderr, "herald: invalid: %s", p->kinds[i].first);
		if (more) {
			fprintf(stderr, "%sthe same in %ld more row%s", sep,
				more, more == 1 ? "" : "s");
			sep = "; ";
		}
		if (verdict) {
			fprintf(stderr, "%snothing was sent%s", sep,
				some_valid ? "; --skip-invalid sends the "
					     "valid rows"
					   : "");
			sep = "; ";
		}
		fputs(sep[0] == ';' ? ")\n" : "\n", stderr);
	}
	if (p->invalid_other)
		fprintf(stderr,
			"herald: invalid: %ld more row%s with other problems "
			"(%s lists each)\n",
			p->invalid_other, p->invalid_other == 1 ? "" : "s",
			p->report ? "the report" : "-v");
	p->nkinds = 0;
	p->invalid_other = 0;
	return verdict;
}

void progress_end(struct progress *p)
{
	clear_line(p);
}

void progress_summary(struct progress *p, const hd_run_stats *s, int dry,
		      int check, int first_failure)
{
	hd_report_stats *rs = NULL;
	char where[300] = "";
	long attempted = s->sent + s->failed + s->uncertain;
	double rate;

	if (p->quiet)
		return;
	if (check) {
		fprintf(stderr, "herald: check: ");
		if (s->dry_run == s->rows)
			fprintf(stderr, "all %ld row%s valid", s->rows,
				s->rows == 1 ? "" : "s");
		else
			fprintf(stderr, "%ld of %ld row%s valid", s->dry_run,
				s->rows, s->rows == 1 ? "" : "s");
		if (s->invalid)
			fprintf(stderr, ", %ld invalid", s->invalid);
		if (s->skipped)
			fprintf(stderr, ", %ld skipped", s->skipped);
		if (s->not_attempted)
			fprintf(stderr, ", %ld not checked", s->not_attempted);
		fprintf(stderr, "; nothing was sent\n");
		return;
	}
	/* the rate of rows that went out (or would have), not of rows
	 * skipped or refused before any attempt */
	if (dry)
		attempted = s->dry_run;
	rate = s->elapsed > 0 ? (double)attempted / s->elapsed : 0;
	/* the counts from the run; the rest from the rows handed over */
	rs = p->rows;
	if (rs) {
		summary_from_run(rs, s);
		fputs("herald: ", stderr);
		summary_counts(stderr, rs, dry);
		fprintf(stderr, " in %.2f s (%.1f rows/s)\n", s->elapsed, rate);
		/* one rate: the counts line's, over the run's own clock */
		summary_details(stderr, "herald: ", rs, 0, 0);
	}
	if (p->report && strcmp(p->report, "-") != 0) {
		fprintf(stderr, "herald: report: %s\n", p->report);
		snprintf(where, sizeof(where), "; %s has every row", p->report);
	}
	/* without -v failed rows are not listed: say once why the first
	 * one failed, so "the server is unreachable" is one clear line */
	if (first_failure && s->failed && !p->verbose && p->first_fail_row)
		fprintf(stderr,
			"herald: %ld row%s failed; the first (row %ld): %s "
			"(-v lists each%s)\n",
			s->failed, s->failed == 1 ? "" : "s", p->first_fail_row,
			p->first_fail, where);
	if (s->uncertain > s->held)
		fprintf(stderr,
			"herald: %ld row%s uncertain: sent, but no reply came, "
			"so herald cannot know whether %s arrived and does "
			"not send %s again%s\n",
			s->uncertain - s->held,
			s->uncertain - s->held == 1 ? "" : "s",
			s->uncertain - s->held == 1 ? "it" : "they",
			s->uncertain - s->held == 1 ? "it" : "them", where);
	if (s->held)
		fprintf(stderr,
			"herald: %ld row%s held back (--on-uncertain skip): an "
			"earlier run left %s uncertain\n",
			s->held, s->held == 1 ? "" : "s",
			s->held == 1 ? "it" : "them");
	if (s->resent)
		fprintf(stderr,
			"herald: %ld row%s sent again that an earlier run left "
			"uncertain (--on-uncertain resend)\n",
			s->resent, s->resent == 1 ? "" : "s");
}
