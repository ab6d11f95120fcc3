/* send.c — on a worker: render one row, send it, retry, decide. */
#include "send.h"

#include "attempt_log.h"
#include "commit.h"
#include "dest.h"
#include "fields.h"
#include "filter.h"
#include "key.h"
#include "retry.h"

#include <stdarg.h>
#include <strings.h>
#include <time.h>

#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Copies src into dst[size], cut to fit, always terminated. */
static void copy_text(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

void hd__sender_init(hd__sender *s)
{
	atomic_init(&s->abort, 0);
	atomic_init(&s->halt, 0);
	atomic_init(&s->fail_streak, 0);
	atomic_init(&s->delivered, 0);
	pthread_mutex_init(&s->ff_mu, NULL);
}

void hd__sender_destroy(hd__sender *s)
{
	pthread_mutex_destroy(&s->ff_mu);
}

void hd__blame_row(const char *source_name, hd_error *e, long row, long line)
{
	char where[300] = "";
	size_t n;

	if (e->file[0] && strcmp(e->file, source_name) != 0) {
		if (e->line > 0)
			snprintf(where, sizeof(where), " (template %s:%ld)",
				 e->file, e->line);
		else
			snprintf(where, sizeof(where), " (template %s)",
				 e->file);
	}
	n = strlen(e->msg);
	if (where[0] && n + strlen(where) < sizeof(e->msg))
		memcpy(e->msg + n, where, strlen(where) + 1);
	snprintf(e->file, sizeof(e->file), "%s", source_name);
	e->line = line;
	e->column = 0;
	e->row = row;
}

hd__job *hd__job_new(void)
{
	/* a job is 4 KB, most of it texts few rows write; zeroing two
	 * whole jobs a row showed in a profile of the check pass */
	hd__job *j = malloc(sizeof(*j));

	if (!j)
		return NULL;
	memset(j, 0, offsetof(hd__job, prev_error));
	j->prev_error[0] = '\0';
	j->response[0] = '\0';
	j->error[0] = '\0';
	hd_error_clear(&j->check_error);
	return j;
}

void hd__job_free(hd__job *j)
{
	if (!j)
		return;
	hd_message_clear(&j->msg);
	json_decref(j->record);
	hd__record_text_clear(&j->text);
	free(j->key);
	free(j->id);
	free(j->message_id);
	free(j);
}

/* The attempt was cut short by an abort before the message went out. */
static void aborted_before(hd__job *j)
{
	if (j->attempts == 0) {
		j->status = HD_ROW_NOT_ATTEMPTED;
		copy_text(j->error, sizeof(j->error),
			  "interrupted before the message went out");
		j->code = 0;
		j->response[0] = '\0';
		return;
	}
	j->status = HD_ROW_FAILED;
	j->failure = "transient";
	snprintf(j->error, sizeof(j->error),
		 "interrupted before attempt %d went out; attempt %d: %s",
		 j->attempts + 1, j->attempts, j->prev_error);
}

/* Sets halt (once: the first reason wins) with the line that says why. */
static void halt(hd__sender *s, int why, const char *fmt, ...) HD_PRINTF(3, 4);
static void halt(hd__sender *s, int why, const char *fmt, ...)
{
	int none = 0;
	va_list ap;

	if (!atomic_compare_exchange_strong(&s->halt, &none, HD__HALT_CLAIMED))
		return;
	va_start(ap, fmt);
	vsnprintf(s->halt_msg, sizeof(s->halt_msg), fmt, ap);
	va_end(ap);
	atomic_store(&s->halt, why);
}

/* A row found the destination unreachable before any row got through:
 * after a few such rows (to one destination) nothing is likely to work,
 * and the run stops rather than spend every row's retries. */
static void fail_fast(hd__sender *s, const hd_send_result *res)
{
	static const char *const advice[] = {
	    [HD_UNREACH_CONNECT] = "try again later",
	    [HD_UNREACH_RESOLVE] = "check the host name",
	    [HD_UNREACH_TLS] = "check the URL's scheme and port (smtps:// "
			       "and https:// speak TLS from the first byte)",
	};
	long rows;
	int stop;

	pthread_mutex_lock(&s->ff_mu);
	if (s->ff_rows == 0)
		copy_text(s->ff_dest, sizeof(s->ff_dest), res->dest);
	else if (strcmp(s->ff_dest, res->dest) != 0)
		s->ff_multi = 1;
	rows = ++s->ff_rows;
	stop = !s->ff_multi && rows >= s->failfast_rows &&
	       !atomic_load(&s->delivered);
	pthread_mutex_unlock(&s->ff_mu);
	if (stop)
		halt(s,
		     res->unreachable == HD_UNREACH_CONNECT
			 ? HD__HALT_UNREACHABLE
			 : HD__HALT_FATAL,
		     "%s: %ld row%s tried, none got through (%s): stopping, "
		     "%s",
		     res->dest[0] ? res->dest : "the server", rows,
		     rows == 1 ? "" : "s", res->error,
		     advice[res->unreachable]);
}

/* Keeps the failure streak and the halt flag where sends start, so a
 * limit holds however fast the queue is worked through. */
static void note_outcome(hd__job *j)
{
	hd__sender *s = j->sender;
	long n;

	if (j->status == HD_ROW_SENT) {
		atomic_store(&s->fail_streak, 0);
		return;
	}
	/* an uncertain row counts: a server that swallows every message
	 * without answering must stop the run too.  A row not tried because
	 * its destination is paused does not: the sends that paused it
	 * counted, and rows for the others must go on. */
	if ((j->status != HD_ROW_FAILED && j->status != HD_ROW_UNCERTAIN) ||
	    j->paused)
		return;
	n = atomic_fetch_add(&s->fail_streak, 1) + 1;
	if (s->max_failures > 0 && n >= s->max_failures)
		halt(s, HD__HALT_MAX_FAILURES,
		     "%ld failures in a row (--max-failures %ld): stopping; "
		     "the last: row %ld: %s",
		     n, s->max_failures, j->row, j->error);
}

hd_status hd__sender_halted(hd__sender *s, char *msg, size_t size)
{
	int why = atomic_load(&s->halt);

	if (why == 0 || why == HD__HALT_CLAIMED)
		return HD_OK;
	snprintf(msg, size, "%s", s->halt_msg);
	switch (why) {
	case HD__HALT_FATAL:
		return HD_ECONFIG;
	case HD__HALT_JOURNAL:
		return HD_EIO;
	default:
		return HD_EINTERRUPTED;
	}
}

/* ---- the life cycle ----------------------------------------------------- */

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void hd__job_dest_key(const hd_message *msg, int per_domain, char *out,
		      size_t size)
{
	const char *p, *end, *port = NULL;
	size_t n = 0;

	if (msg->kind == HD_MSG_EMAIL) {
		const char *at = msg->email.nrcpt && per_domain
				     ? strrchr(msg->email.rcpt[0], '@')
				     : NULL;
		snprintf(out, size, "%s", at ? at + 1 : "smtp");
		return;
	}
	/* scheme://[user@]host[:port]/... : the host (lower-cased) and the
	 * port, the scheme's when none */
	p = strstr(msg->http.url ? msg->http.url : "", "://");
	if (!p) {
		snprintf(out, size, "?");
		return;
	}
	p += 3;
	end = p + strcspn(p, "/?#");
	for (const char *at = p; at < end; at++)
		if (*at == '@')
			p = at + 1;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));
		if (close && close + 1 < end && close[1] == ':')
			port = close + 2;
		end = close ? close + 1 : end;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		if (colon) {
			port = colon + 1;
			end = colon;
		}
	}
	for (; p < end && n + 1 < size; p++)
		out[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	out[n] = '\0';
	if (port)
		snprintf(out + n, size - n, ":%.*s", (int)strcspn(port, "/?#"),
			 port);
	else
		snprintf(out + n, size - n, ":%s",
			 strncasecmp(msg->http.url, "https", 5) == 0 ? "443"
								     : "80");
}

/* A valid row's key, due time and check from one build, where the key is
 * its recipients and the template's messages do not depend on it (most
 * email runs): HD_OK with key, id and key_status set; anything else and
 * the caller takes the three steps one by one (as for every other
 * template), which say what is wrong first. */
static hd_status one_build(hd__job *j)
{
	hd__sender *s = j->sender;
	hd_error e;
	double due;
	char *key = NULL;

	if (s->keys->mode != HD__KEY_ENVELOPE || !hd_msgtmpl_key_free(s->tmpl))
		return HD_EINVAL;
	hd_error_clear(&e);
	if (hd_msgtmpl_check_recipients(s->tmpl, j->record, j->row, &key, &e) !=
		HD_OK ||
	    hd__due_time(j->record, &due, &e) != HD_OK) {
		free(key);
		return HD_EINVAL;
	}
	j->id = hd__key_identity(s->keys, key);
	if (!j->id) {
		free(key);
		return HD_ENOMEM;
	}
	j->key = key;
	j->key_status = HD_OK;
	return HD_OK;
}

/* A check job: is the row valid, and what is its key. */
static void check(hd__job *j)
{
	hd__sender *s = j->sender;
	hd_error *e = &j->check_error;
	double due;

	hd_error_clear(e);
	if (j->text.text) {
		/* the coordinator left the parsing to us */
		hd_status pst = hd__record_text_parse(&j->text, &j->record, e);
		hd__record_text_clear(&j->text);
		if (pst != HD_OK) {
			j->broken = pst;
			j->status = HD_ROW_INVALID;
			return;
		}
	}
	hd_status st = one_build(j);

	if (st != HD_OK) {
		/* the key, the due time and the check in turn: the error of
		 * an invalid row is the first of them */
		j->key_status = hd__key_of(s->keys, s->tmpl, j->record, j->row,
					   &j->key, &j->id, e);
		/* everything but the DKIM signatures, which no data can make
		 * fail and which cost most */
		st = j->key_status;
		if (st == HD_OK)
			st = hd__due_time(j->record, &due, e);
		if (st == HD_OK)
			st = hd_msgtmpl_check(s->tmpl, j->record, s->campaign,
					      j->id, j->row, e);
	}
	if (st != HD_OK) {
		j->status = HD_ROW_INVALID;
		if (e->code == HD_OK)
			e->code = st;
		hd__blame_row(s->source_name, e, j->row, j->line);
		/* "did you mean": what the row has instead */
		hd__fields_explain(s->tmpl, j->record, e);
	} else {
		j->status = HD_ROW_DRY_RUN; /* valid */
	}
	hd__due_of(j->record, &j->due);
	if (j->drop_record) {
		json_decref(j->record);
		j->record = NULL;
	}
}

int hd__job_open(hd__job *j, double now)
{
	hd__sender *s = j->sender;
	hd_error e;
	char key[160];

	j->t0 = now;
	j->rng = hd_rng_seed((uint64_t)j->row);
	if (j->kind == HD__JOB_CHECK) {
		check(j);
		return HD__JOB_DONE;
	}
	hd_error_clear(&e);
	if (hd_msgtmpl_build(s->tmpl, j->record, s->campaign, j->id, j->row,
			     &j->msg, &e) != HD_OK) {
		j->status = HD_ROW_INVALID;
		hd__blame_row(s->source_name, &e, j->row, j->line);
		hd_error_format(&e, j->error, sizeof(j->error));
		return HD__JOB_DONE;
	}
	j->message_id = j->msg.id ? strdup(j->msg.id) : NULL;
	j->nrcpt = j->msg.kind == HD_MSG_EMAIL ? j->msg.email.nrcpt : 0;
	if (s->dry) {
		j->status = HD_ROW_DRY_RUN;
		return HD__JOB_DONE;
	}
	if (atomic_load(&s->halt)) {
		j->status = HD_ROW_NOT_ATTEMPTED;
		return HD__JOB_DONE;
	}
	if (s->dests) {
		hd__job_dest_key(&j->msg, s->per_domain, key, sizeof(key));
		j->dest = hd__dests_get(s->dests, key);
	}
	j->not_before = now;
	return HD__JOB_READY;
}

int hd__job_stop_untried(hd__job *j)
{
	if (j->attempts || j->dest_in || j->booked || j->started)
		return 0;
	j->status = HD_ROW_NOT_ATTEMPTED;
	return 1;
}

int hd__job_try_start(hd__job *j, double now, double *wake)
{
	hd__sender *s = j->sender;
	char why[400];
	int r;

	if (atomic_load(&s->abort)) {
		aborted_before(j);
		return HD__JOB_DONE;
	}
	if (j->attempts == 0 && atomic_load(&s->halt)) {
		/* the run stopped sending before this row's turn came */
		j->status = HD_ROW_NOT_ATTEMPTED;
		return HD__JOB_DONE;
	}
	if (j->not_before > now) {
		*wake = j->not_before;
		return HD__JOB_WAIT;
	}
	if (j->dest && !j->dest_in) {
		r = hd__dest_begin(s->dests, j->dest, now, why, sizeof(why));
		if (r == HD__DEST_PAUSED) {
			/* it is not tried: its retries would only wait */
			j->status = HD_ROW_FAILED;
			j->failure = "transient";
			j->paused = 1;
			copy_text(j->error, sizeof(j->error), why);
			return HD__JOB_DONE;
		}
		if (r == HD__DEST_WAIT) {
			*wake = now + 0.02;
			return HD__JOB_BLOCKED;
		}
		j->dest_in = 1;
	}
	if (!j->booked) {
		double at = hd_ratelimit_reserve(s->rl);
		double dat = j->dest ? hd__dest_reserve(s->dests, j->dest) : 0;
		j->booked = 1;
		j->not_before = at > dat ? at : dat;
		/* the pacers answer "now" by their own clock, read after
		 * ours: only a slot later than both is a wait */
		if (j->not_before > now && j->not_before > hd_monotonic()) {
			*wake = j->not_before;
			return HD__JOB_WAIT;
		}
	}
	if (s->journal && !j->started) {
		/* on disk before anything goes out: a crash from here on
		 * leaves the row known as uncertain */
		if (hd__commit_begin_async(s->journal, j->row, j->id,
					   j->attempts + 1, &j->jseq) != HD_OK)
			j->jseq = UINT64_MAX;
		j->started = 1;
	}
	if (j->started) {
		r = j->jseq == UINT64_MAX
			? -1
			: hd__commit_durable(s->journal, j->jseq);
		if (r < 0) {
			halt(s, HD__HALT_JOURNAL,
			     "the journal cannot be written: nothing more is "
			     "sent");
			aborted_before(j);
			return HD__JOB_DONE;
		}
		if (r == 0) {
			*wake = now + 0.05; /* and the committer wakes us */
			return HD__JOB_WAIT;
		}
		j->journaled = 1;
	}
	memset(&j->res, 0, sizeof(j->res));
	j->res.retry_after = -1;
	/* a row's time runs from its first attempt: the waits for a slot,
	 * the pacer and the journal before it are not the server's */
	if (j->attempts == 0)
		j->t0 = now;
	j->attempts++;
	return HD__JOB_START;
}

/* The server said "slow down": the destination alone when the run has
 * several, else the whole pool; told to the coordinator (-v). */
static void slowed(hd__job *j, const hd_send_result *res)
{
	hd__sender *s = j->sender;
	int own =
	    j->dest && hd__dest_slow_down(s->dests, j->dest, res->retry_after);

	if (!own)
		hd_ratelimit_slow_down(s->rl, res->retry_after);
	hd__attempt_log_slow(j->log, j->row, j->attempts, res->error,
			     own ? hd__dest_key(j->dest) : "",
			     own ? hd__dest_pacer(s->dests, j->dest) : s->rl);
}

/* Was this attempt's failure the destination's trouble (no answer of its
 * own, or "slow down"), rather than a verdict on this message? */
static int trouble(const hd_send_result *res)
{
	return res->status != HD_OK &&
	       (res->uncertain || res->unreachable || res->slow_down ||
		(res->status == HD_ETRANSIENT && res->code == 0));
}

int hd__job_attempt_done(hd__job *j, double now)
{
	hd__sender *s = j->sender;
	hd_send_result *res = &j->res;

	j->booked = 0;
	j->started = 0;
	j->code = res->code;
	copy_text(j->response, sizeof(j->response), res->response);
	copy_text(j->error, sizeof(j->error), res->error);
	if (j->dest_in) {
		hd__dest_end(s->dests, j->dest,
			     trouble(res) ? HD__DEST_TROUBLE : HD__DEST_OK,
			     res->error, now);
		j->dest_in = 0;
	}
	if (res->status == HD_OK) {
		j->status = HD_ROW_SENT;
		j->error[0] = '\0';
		atomic_store(&s->delivered, 1);
		hd_ratelimit_success(s->rl);
		if (j->dest)
			hd__dest_success(s->dests, j->dest);
		return HD__JOB_DONE;
	}
	if (res->uncertain) {
		/* it may have arrived: never again in this run */
		j->status = HD_ROW_UNCERTAIN;
		return HD__JOB_DONE;
	}
	if (atomic_load(&s->abort)) {
		j->attempts--;
		aborted_before(j);
		return HD__JOB_DONE;
	}
	if (res->fatal) {
		j->status = HD_ROW_FAILED;
		j->failure = "permanent";
		halt(s, HD__HALT_FATAL, "%s", res->error);
		return HD__JOB_DONE;
	}
	if (s->journal)
		hd__commit_retry(s->journal, j->row, j->id, j->attempts);
	copy_text(j->prev_error, sizeof(j->prev_error), res->error);
	if (res->reconnect && !j->reconnected) {
		/* a reused connection had died before anything of this
		 * message went out: once, for free */
		j->reconnected = 1;
		j->attempts--;
		j->not_before = now;
		hd__attempt_log_retry(j->log, j->row, j->attempts + 1,
				      res->error, 0);
		return HD__JOB_READY;
	}
	if (res->unreachable && !atomic_load(&s->delivered)) {
		j->status = HD_ROW_FAILED;
		j->failure = "transient";
		fail_fast(s, res);
		return HD__JOB_DONE;
	}
	if (res->slow_down)
		slowed(j, res);
	if (res->status == HD_ETRANSIENT && j->attempts <= s->retries) {
		double wait = hd_retry_delay(j->attempts, s->backoff,
					     res->retry_after, &j->rng);
		j->not_before = now + wait;
		hd__attempt_log_retry(j->log, j->row, j->attempts, res->error,
				      wait);
		return HD__JOB_READY;
	}
	j->status = HD_ROW_FAILED;
	j->failure = res->status == HD_ETRANSIENT ? "transient" : "permanent";
	return HD__JOB_DONE;
}

/* The row's outcome into the journal, before this worker takes another
 * row (commit.h says why). */
static void journal_end(hd__job *j)
{
	hd_report_row rr = {0};

	rr.row = j->row;
	rr.status = j->status;
	rr.code = j->code;
	rr.error = j->error[0] ? j->error : NULL;
	rr.message_id = j->message_id;
	rr.at = wall_now();
	/* out of memory: the start alone says uncertain, which errs on the
	 * side of not sending twice */
	(void)hd__commit_end(j->sender->journal, &rr, j->id);
}

void hd__job_close(hd__job *j)
{
	hd__sender *s = j->sender;

	if (j->kind == HD__JOB_SEND)
		note_outcome(j);
	if (j->dest_in) {
		hd__dest_end(s->dests, j->dest, HD__DEST_OK, NULL,
			     hd_monotonic());
		j->dest_in = 0;
	}
	if (j->dest) {
		hd__dests_put(s->dests, j->dest);
		j->dest = NULL;
	}
	hd_message_clear(&j->msg);
	/* a send never attempted spent no time on a server */
	j->ms = j->kind == HD__JOB_SEND && j->attempts == 0
		    ? 0
		    : (long)((hd_monotonic() - j->t0) * 1000.0);
	if (j->journaled)
		journal_end(j);
}
