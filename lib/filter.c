/* filter.c — one decision per row: taken, or left out with a reason. */
#include "filter.h"

#include "dedupe.h"
#include "ratelimit.h"
#include "shard.h"
#include "source.h"
#include "suppress.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DUE_FIELD "send_at"

struct hd__filter {
	hd__filter_config cfg;
	hd_dedupe *dedupe; /* HD__DEDUPE_PASSES */
	hd_recent *recent; /* HD__DEDUPE_RECENT */
	hd_keyset *only;   /* --only-failed: rows to send again */
	hd_keyset *held;   /* --only-failed: uncertain rows held back */
	char only_name[256];
};

/* ---- --only-failed ----------------------------------------------------- */

/* A CSV report cell that the writer neutralised against formulas: the
 * apostrophe it put before = + - @ TAB CR goes again. */
static const char *unguard(const char *s)
{
	if (s[0] == '\'' && s[1] && strchr("=+-@\t\r", s[1]))
		return s + 1;
	return s;
}

static hd_status read_only_failed(hd__filter *f, hd_error *err)
{

	hd_source_opts so = {.format = HD_FORMAT_AUTO};
	const char *path = f->cfg.only_failed;
	hd_source *src = NULL;
	json_t *rec = NULL;
	hd_status st;
	size_t n = strlen(path);

	/* a report is .csv or JSON Lines, whatever else it is called */
	so.format = n >= 4 && strcmp(path + n - 4, ".csv") == 0
			? HD_FORMAT_CSV
			: HD_FORMAT_JSONL;
	snprintf(f->only_name, sizeof(f->only_name), "%s", path);
	f->only = hd_keyset_new();
	f->held = hd_keyset_new();
	if (!f->only || !f->held)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	st = hd_source_open(path, &so, &src, err);
	while (st == HD_OK && (st = hd_source_next(src, &rec, err)) == HD_OK &&
	       rec) {
		const char *key =
		    json_string_value(json_object_get(rec, "key"));
		const char *status =
		    json_string_value(json_object_get(rec, "status"));
		hd_row_status s = status ? hd_row_status_parse(status) : 0;
		hd_keyset *to = NULL;
		char *id;

		if (!status || !s) {
			st = hd_error_set(err, HD_EPARSE, path,
					  hd_source_line(src), 0,
					  "not a herald report (no known "
					  "\"status\")");
		} else if (key && *key) {
			if (s == HD_ROW_FAILED || s == HD_ROW_NOT_ATTEMPTED)
				to = f->only;
			else if (s == HD_ROW_UNCERTAIN)
				to = f->cfg.hold_uncertain ? f->held : f->only;
		}
		if (to) {
			id = hd__key_identity(f->cfg.keys, unguard(key));
			if (!id || hd_keyset_add(to, id, strlen(id)) < 0)
				st = hd_error_set(err, HD_ENOMEM, NULL, 0, 0,
						  NULL);
			free(id);
		}
		json_decref(rec);
		rec = NULL;
	}
	/* an empty report lists no failed row: nothing goes again */
	if (st == HD_EPARSE && err && strstr(err->msg, "no recipients in file"))
		st = HD_OK;
	hd_source_free(src);
	return st;
}

/* ---- due times --------------------------------------------------------- */

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static long days_from_civil(int y, int m, int d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* RFC 3339 section 5.6 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm);
 * "t", "z" and a space for "T" are accepted, as the RFC allows. */
static int parse_rfc3339(const char *s, double *out)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	double frac = 0;
	const char *p;

	if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' ||
	    digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
	    !strchr("Tt ", s[10]) || digits(s + 11, 2, &h) || s[13] != ':' ||
	    digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 &&
	     !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) ||
	    h > 23 || mi > 59 || sec > 60)
		return -1;
	p = s + 19;
	if (*p == '.') {
		double scale = 0.1;
		if (!(p[1] >= '0' && p[1] <= '9'))
			return -1;
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (digits(p + 1, 2, &oh) || p[3] != ':' ||
		    digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	*out = (double)days_from_civil(y, mo, d) * 86400.0 + h * 3600.0 +
	       mi * 60.0 + (sec > 59 ? 59 : sec) + frac -
	       sign * (oh * 3600.0 + om * 60.0);
	return 0;
}

hd_status hd__due_time(json_t *record, double *due, hd_error *err)
{
	json_t *v = json_object_get(record, DUE_FIELD);

	*due = 0;
	if (!v || json_is_null(v) ||
	    (json_is_string(v) && json_string_length(v) == 0))
		return HD_OK;
	if (!json_is_string(v) || parse_rfc3339(json_string_value(v), due)) {
		hd_error_set(err, HD_EPARSE, NULL, 0, 0,
			     "not an RFC 3339 date-time (like "
			     "2026-12-03T09:00:00+01:00)");
		hd_error_set_field(err, DUE_FIELD);
		return HD_EPARSE;
	}
	return HD_OK;
}

void hd__due_of(json_t *record, hd__due *d)
{
	d->text[0] = '\0';
	if (hd__due_time(record, &d->at, NULL) != HD_OK)
		d->at = 0;
	else if (d->at != 0)
		snprintf(d->text, sizeof(d->text), "%s",
			 json_string_value(json_object_get(record, DUE_FIELD)));
}

/* ---- the filter -------------------------------------------------------- */

hd_status hd__filter_new(const hd__filter_config *cfg, hd__filter **out,
			 hd_error *err)
{
	hd__filter *f = calloc(1, sizeof(*f));
	hd_status st = HD_OK;

	*out = NULL;
	if (cfg->shard_count < 0 ||
	    (cfg->shard_count > 0 &&
	     (cfg->shard_index < 0 || cfg->shard_index >= cfg->shard_count)))
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "no shard %ld of %ld (K counts from 0)",
				    cfg->shard_index, cfg->shard_count);
	if (f && cfg->dedupe == HD__DEDUPE_PASSES)
		f->dedupe = hd_dedupe_new();
	else if (f && cfg->dedupe == HD__DEDUPE_RECENT)
		f->recent = hd_recent_new(HD_RECENT_KEYS);
	if (!f ||
	    (cfg->dedupe != HD__DEDUPE_NONE && !f->dedupe && !f->recent)) {
		free(f);
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
	f->cfg = *cfg;
	if (cfg->only_failed)
		st = read_only_failed(f, err);
	if (st != HD_OK) {
		hd__filter_free(f);
		return st;
	}
	*out = f;
	return HD_OK;
}

void hd__filter_free(hd__filter *f)
{
	if (!f)
		return;
	hd_dedupe_free(f->dedupe);
	hd_recent_free(f->recent);
	hd_keyset_free(f->only);
	hd_keyset_free(f->held);
	free(f);
}

size_t hd__filter_only_count(const hd__filter *f)
{
	return f->only ? hd_keyset_count(f->only) : 0;
}

static int in_range(const hd__filter *f, long row)
{
	if (row <= f->cfg.skip)
		return 0;
	return f->cfg.limit <= 0 || row <= f->cfg.skip + f->cfg.limit;
}

int hd__filter_outside(const hd__filter *f, long row)
{
	return !in_range(f, row);
}

void hd__filter_expect(hd__filter *f, long rows)
{
	long keys = rows - f->cfg.skip;

	if (f->cfg.limit > 0 && keys > f->cfg.limit)
		keys = f->cfg.limit;
	if (f->dedupe && keys > 0)
		hd_dedupe_expect(f->dedupe, (size_t)keys);
}

static void leave_out(hd__verdict *v, hd_row_status status, const char *fmt,
		      ...) HD_PRINTF(3, 4);
static void leave_out(hd__verdict *v, hd_row_status status, const char *fmt,
		      ...)
{
	va_list ap;

	v->take = 0;
	v->status = status;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
}

/* What the journal says decides; 1 when it left the row out. */
static int by_journal(hd__filter *f, const char *id, hd__verdict *v,
		      hd_status *st, hd_error *err)
{
	hd__jinfo ji;

	*st = hd__journal_lookup(f->cfg.journal, id, &ji, err);
	if (*st != HD_OK)
		return 1;
	if (ji.state == HD__J_SENT) {
		leave_out(v, HD_ROW_SKIPPED, "sent earlier, %s", ji.at);
		return 1;
	}
	if (ji.state != HD__J_UNCERTAIN)
		return 0;
	if (ji.started_only)
		snprintf(v->reason, sizeof(v->reason),
			 "a send started at %s and no outcome was recorded",
			 ji.at);
	else
		snprintf(v->reason, sizeof(v->reason),
			 "uncertain in an earlier run (%s, %s)", ji.error,
			 ji.at);
	if (f->cfg.hold_uncertain) {
		char why[sizeof(v->reason)];
		memcpy(why, v->reason, sizeof(why));
		leave_out(v, HD_ROW_UNCERTAIN,
			  "held back (--on-uncertain skip): %.300s", why);
		return 1;
	}
	v->resend = 1;
	return 0;
}

/* Is the key on the suppression list?  An envelope key ("a@x, b@y") is
 * when any of its addresses is.  1, 0, or -1 (the list cannot be read). */
static int suppressed(const hd__filter *f, const char *id)
{
	const char *p = id;

	if (!f->cfg.suppress)
		return 0;
	if (f->cfg.keys && f->cfg.keys->mode == HD__KEY_ENVELOPE) {
		for (;;) {
			size_t n = strcspn(p, ",");
			int r = hd__suppress_has(f->cfg.suppress, p, n);
			if (r != 0)
				return r;
			if (!p[n])
				return 0;
			p += n + 1;
			while (*p == ' ')
				p++;
		}
	}
	return hd__suppress_has(f->cfg.suppress, id, strlen(id));
}

hd_status hd__filter_decide(hd__filter *f, hd__pass pass, long row,
			    const char *id, const hd__due *due, hd__verdict *v,
			    hd_error *err)
{
	hd_status st = HD_OK;

	memset(v, 0, sizeof(*v));
	v->take = 1;
	if (!in_range(f, row)) {
		leave_out(v, HD_ROW_SKIPPED, "outside --skip/--limit");
		return HD_OK;
	}
	if (f->cfg.shard_count > 1) {
		long k = hd__shard_of(id, row, f->cfg.shard_count);
		if (k != f->cfg.shard_index) {
			leave_out(v, HD_ROW_SKIPPED, "shard %ld/%ld", k,
				  f->cfg.shard_count);
			return HD_OK;
		}
	}
	if (!id)
		return HD_OK;
	/* a repeat of a key this run already took is a duplicate, whether
	 * or not that send has reached the journal yet */
	if (pass == HD__PASS_ONE && f->recent &&
	    hd_recent_has(f->recent, id, strlen(id))) {
		leave_out(v, HD_ROW_SKIPPED,
			  "duplicate key: a recent row has it");
		return HD_OK;
	}
	if (f->cfg.journal && by_journal(f, id, v, &st, err))
		return st;
	switch (suppressed(f, id)) {
	case 1:
		leave_out(v, HD_ROW_SKIPPED, "suppressed (%.200s)",
			  f->cfg.suppress_name);
		return HD_OK;
	case -1:
		return hd_error_set(err, HD_EIO, f->cfg.suppress_name, 0, 0,
				    "cannot read the suppression list back");
	}
	if (f->only && !hd_keyset_has(f->only, id, strlen(id))) {
		if (hd_keyset_has(f->held, id, strlen(id)))
			leave_out(v, HD_ROW_UNCERTAIN,
				  "held back (--on-uncertain skip): uncertain "
				  "in %.200s",
				  f->only_name);
		else
			leave_out(v, HD_ROW_SKIPPED,
				  "not failed in %.200s (--only-failed)",
				  f->only_name);
		return HD_OK;
	}
	if (due &&
	    due->at > (pass == HD__PASS_ONE ? hd__wall_clock() : f->cfg.now)) {
		leave_out(v, HD_ROW_SKIPPED, "not due until %.60s", due->text);
		v->later = 1;
		return HD_OK;
	}
	/* last: only rows that would otherwise go count as first of a key
	 * (a repeat was left out above, before the journal) */
	if (pass == HD__PASS_ONE) {
		if (f->recent && hd_recent_seen(f->recent, id, strlen(id)) < 0)
			return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
		return HD_OK;
	}
	if (pass == HD__PASS_VALIDATE) {
		if (hd_dedupe_note(f->dedupe, id, strlen(id)) != HD_OK)
			return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
		return HD_OK;
	}
	switch (hd_dedupe_seen(f->dedupe, id, strlen(id))) {
	case 0:
		return HD_OK;
	case 1:
		leave_out(v, HD_ROW_SKIPPED,
			  "duplicate key: an earlier row has it");
		return HD_OK;
	default:
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
}
