/* progress.c — progress line, row logs and the summary on stderr. */
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void progress_init(struct progress *p, int mode_always, int mode_never,
		   int quiet, int verbose)
{
	int tty = isatty(STDERR_FILENO);
	const char *nc = getenv("NO_COLOR");

	p->bar = !quiet && !mode_never && (mode_always || tty);
	p->color = tty && !(nc && nc[0]);
	p->quiet = quiet;
	p->verbose = verbose;
	p->drawn = 0;
	p->invalid_seen = 0;
	p->first_invalid[0] = '\0';
	p->first_fail_row = 0;
	p->first_fail[0] = '\0';
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

static void draw(struct progress *p, const hd_run_stats *s)
{
	double rate = s->elapsed > 0 ? (double)s->done / s->elapsed : 0;
	double eta = rate > 0 ? (double)(s->total - s->done) / rate : -1;
	char etas[32];
	int width = 24, fill;

	fmt_eta(eta, etas);
	fill = s->total > 0
		   ? (int)((double)width * (double)s->done / (double)s->total)
		   : 0;
	if (fill > width)
		fill = width;
	fprintf(stderr, "\r[%.*s%*s] %ld/%ld  %.1f/s  ETA %s  ", fill,
		"########################", width - fill, "", s->done, s->total,
		rate, etas);
	if (s->failed && p->color)
		fprintf(stderr, "\033[31mfailed %ld\033[0m", s->failed);
	else
		fprintf(stderr, "failed %ld", s->failed);
	fputs("\033[K", stderr);
	p->drawn = 1;
}

void progress_event(void *ctx, const hd_event *ev)
{
	struct progress *p = ctx;
	char line[1200];

	switch (ev->kind) {
	case HD_EVENT_INVALID_ROW:
		/* the first is held back so that a single problem can be
		 * reported on one line together with the verdict */
		clear_line(p);
		hd_error_format(ev->error, line, sizeof(line));
		if (p->invalid_seen++ == 0) {
			snprintf(p->first_invalid, sizeof(p->first_invalid),
				 "%s", line);
			break;
		}
		progress_flush_invalid(p, 0);
		fprintf(stderr, "herald: invalid: %s\n", line);
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
		if (!p->quiet) {
			clear_line(p);
			fprintf(stderr, "herald: %s\n", ev->text);
		}
		break;
	case HD_EVENT_PROGRESS:
		if (p->bar)
			draw(p, ev->stats);
		break;
	}
}

long progress_flush_invalid(struct progress *p, int refused)
{
	if (p->first_invalid[0]) {
		clear_line(p);
		fprintf(stderr, "herald: invalid: %s%s\n", p->first_invalid,
			refused ? " (nothing was sent; --skip-invalid sends "
				  "the valid rows)"
				: "");
		p->first_invalid[0] = '\0';
	}
	return p->invalid_seen;
}

void progress_end(struct progress *p)
{
	clear_line(p);
}

void progress_summary(struct progress *p, const hd_run_stats *s, int dry,
		      int first_failure)
{
	double rate = s->elapsed > 0 ? (double)s->done / s->elapsed : 0;
	char where[300] = "";

	if (p->quiet)
		return;
	if (p->report && strcmp(p->report, "-") != 0)
		snprintf(where, sizeof(where), "; report: %s", p->report);
	fprintf(stderr,
		"herald: %ld row%s: %ld %s, %ld failed, %ld uncertain, %ld "
		"invalid, %ld skipped, %ld not-attempted; %ld attempt%s in "
		"%.2f s (%.1f rows/s)%s\n",
		s->rows, s->rows == 1 ? "" : "s", dry ? s->dry_run : s->sent,
		dry ? "dry-run" : "sent", s->failed, s->uncertain, s->invalid,
		s->skipped, s->not_attempted, s->attempts,
		s->attempts == 1 ? "" : "s", s->elapsed, rate, where);
	where[0] = '\0';
	if (p->report && strcmp(p->report, "-") != 0)
		snprintf(where, sizeof(where), "; %s has every row", p->report);
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
