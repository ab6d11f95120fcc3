/*
 * source_stream.c — the entries of a Redis stream, read through a
 * consumer group, as a source; stream.h says what it does.
 */
#include "ratelimit.h"
#include "report.h"
#include "source_int.h"
#include "stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLAIM_BATCH 256 /* entries looked at per XPENDING */
#define BEAT_BATCH 256	/* entries touched per script call */

/* Touches the entries this consumer still owns (XCLAIM JUSTID: the
 * delivery count stays, the idle time starts again); returns the ids it
 * no longer owns.  KEYS[1] stream; ARGV group, consumer, ids... */
static const char beat_script[] =
    "local lost = {}\n"
    "for i = 3, #ARGV do\n"
    "  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], "
    "ARGV[i], 1)\n"
    "  if p[1] ~= nil and p[1][2] == ARGV[2] then\n"
    "    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], "
    "'JUSTID')\n"
    "  else\n"
    "    lost[#lost + 1] = ARGV[i]\n"
    "  end\n"
    "end\n"
    "return lost\n";

/* An entry this consumer holds. */
struct entry {
	struct entry *next;  /* every entry held */
	struct entry *qnext; /* those not handed out yet, in order */
	char id[48];
	long deliveries;
	char owner[160]; /* claimed from; "" when read new */
	char *record;	 /* the field's bytes; NULL when missing */
	size_t record_len;
};

struct stream {
	hd__redis *r;
	char *key, *group, *consumer, *field, *results, *dead;
	long max_deliveries, claim_idle_ms;
	struct entry *held;
	struct entry *qhead, *qtail;
	char where[48]; /* the entry last handed out */
	size_t room;
	long wait_ms;
	double next_claim, next_beat;
	int own_done; /* our own pending entries were taken back */
	hd__stream_counts counts;
};

static void entry_free(struct entry *e)
{
	if (!e)
		return;
	free(e->record);
	free(e);
}

static struct entry *find(struct stream *s, const char *id)
{
	for (struct entry *e = s->held; e; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

/* No longer held (not freed). */
static void unhold(struct stream *s, struct entry *e)
{
	for (struct entry **p = &s->held; *p; p = &(*p)->next)
		if (*p == e) {
			*p = e->next;
			return;
		}
}

/* A delivered entry (reply [id, [field, value, ...]]) joins the held ones
 * and the queue.  Entries deleted from the stream meanwhile (no fields)
 * are acknowledged away. */
static hd_status take_entry(struct stream *s, const redisReply *er,
			    long deliveries, const char *owner, hd_error *err)
{
	const redisReply *id, *fields;
	struct entry *e;

	if (er->type != REDIS_REPLY_ARRAY || er->elements < 2 ||
	    er->element[0]->type != REDIS_REPLY_STRING)
		return HD_OK;
	id = er->element[0];
	fields = er->element[1];
	if (id->len >= sizeof(e->id) || find(s, id->str))
		return HD_OK;
	e = calloc(1, sizeof(*e));
	if (!e)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	memcpy(e->id, id->str, id->len);
	e->deliveries = deliveries;
	snprintf(e->owner, sizeof(e->owner), "%s", owner ? owner : "");
	if (fields->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i + 1 < fields->elements; i += 2) {
			const redisReply *f = fields->element[i];
			const redisReply *v = fields->element[i + 1];
			if (f->type != REDIS_REPLY_STRING ||
			    v->type != REDIS_REPLY_STRING ||
			    strcmp(f->str, s->field) != 0)
				continue;
			e->record = malloc(v->len + 1);
			if (!e->record) {
				free(e);
				return hd_error_set(err, HD_ENOMEM, NULL, 0, 0,
						    NULL);
			}
			memcpy(e->record, v->str, v->len);
			e->record[v->len] = '\0';
			e->record_len = v->len;
			break;
		}
	}
	e->next = s->held;
	s->held = e;
	if (s->qtail)
		s->qtail->qnext = e;
	else
		s->qhead = e;
	s->qtail = e;
	return HD_OK;
}

/* Runs argv... as one MULTI/EXEC (n commands, each argc[i] strings). */
static hd_status transact(struct stream *s, int n, const int *argc,
			  const char **const *argv, hd_error *err)
{
	static const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
	hd_status st = hd__redis_append(s->r, 1, multi, NULL, err);
	redisReply *rep = NULL;
	int bad = 0;

	for (int i = 0; st == HD_OK && i < n; i++)
		st = hd__redis_append(s->r, argc[i], argv[i], NULL, err);
	if (st == HD_OK)
		st = hd__redis_append(s->r, 1, exec, NULL, err);
	/* every reply is read, so the connection stays in step */
	for (int i = 0; st == HD_OK && i < n + 2; i++) {
		st = hd__redis_reply(s->r, &rep, err);
		if (st == HD_OK && rep->type == REDIS_REPLY_ERROR && !bad) {
			bad = 1;
			hd_error_set(err, HD_EIO, NULL, 0, 0,
				     "%.300s: MULTI/EXEC: %.300s",
				     hd__redis_name(s->r), rep->str);
		}
		if (st == HD_OK && i == n + 1 &&
		    rep->type != REDIS_REPLY_ARRAY && !bad) {
			bad = 1;
			hd_error_set(err, HD_EIO, NULL, 0, 0,
				     "%.300s: the transaction was not run",
				     hd__redis_name(s->r));
		}
		freeReplyObject(rep);
		rep = NULL;
	}
	return st != HD_OK ? st : bad ? HD_EIO : HD_OK;
}

/* To the dead-letter stream: the entry, why, and (when there is one)
 * its outcome to the results stream; acknowledged, all in one go. */
static hd_status dead_letter(struct stream *s, struct entry *e,
			     const char *reason, const char *line,
			     hd_error *err)
{
	char deliveries[24];
	const char *xadd_dead[] = {"XADD",
				   s->dead,
				   "*",
				   "entry",
				   e->id,
				   s->field,
				   e->record ? e->record : "",
				   "deliveries",
				   deliveries,
				   "consumer",
				   s->consumer,
				   "reason",
				   reason};
	const char *xack[] = {"XACK", s->key, s->group, e->id};
	const char *xadd_res[] = {"XADD", s->results,	 "*",	      "entry",
				  e->id,  "consumer",	 s->consumer, "result",
				  line,	  "dead_letter", s->dead};
	const char **argv[3] = {xadd_dead, xack, xadd_res};
	int argc[3] = {13, 4, 11};

	snprintf(deliveries, sizeof(deliveries), "%ld", e->deliveries);
	s->counts.dead++;
	return transact(s, s->results && line ? 3 : 2, argc, argv, err);
}

/* Dead-letters an entry that never reaches the workers, with a results
 * line of its own. */
static hd_status refuse(struct stream *s, struct entry *e, hd_row_status st,
			const char *reason, hd_error *err)
{
	hd_report_row rr = {0};
	char *line;
	hd_status rc;

	rr.status = st;
	rr.error = reason;
	rr.failure = st == HD_ROW_FAILED ? "transient" : NULL;
	rr.at = hd__wall_clock();
	line = hd__report_line(&rr);
	rc = dead_letter(s, e, reason, line, err);
	free(line);
	return rc;
}

/* Takes entries over: this consumer's own from an earlier life (own), or
 * others' idle for claim_idle. */
static hd_status claim(struct stream *s, int own, hd_error *err)
{
	char count[24], idle[24];
	const char *pend[9];
	int pc = 0;
	redisReply *p = NULL, *c = NULL;
	const char **argv = NULL;
	hd_status st;
	size_t n = 0, want = s->room < CLAIM_BATCH ? s->room : CLAIM_BATCH;

	if (want == 0)
		return HD_OK;
	snprintf(count, sizeof(count), "%zu", want);
	snprintf(idle, sizeof(idle), "%ld", own ? 0 : s->claim_idle_ms);
	pend[pc++] = "XPENDING";
	pend[pc++] = s->key;
	pend[pc++] = s->group;
	if (!own) {
		pend[pc++] = "IDLE";
		pend[pc++] = idle;
	}
	pend[pc++] = "-";
	pend[pc++] = "+";
	pend[pc++] = count;
	if (own)
		pend[pc++] = s->consumer;
	st = hd__redis_call(s->r, pc, pend, NULL, &p, err);
	if (st != HD_OK)
		return st;
	argv = calloc(p->elements + 6, sizeof(*argv));
	if (!argv) {
		st = hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
		goto out;
	}
	argv[0] = "XCLAIM";
	argv[1] = s->key;
	argv[2] = s->group;
	argv[3] = s->consumer;
	argv[4] = idle;
	for (size_t i = 0; i < p->elements; i++) {
		const redisReply *r = p->element[i];
		if (r->type != REDIS_REPLY_ARRAY || r->elements < 4 ||
		    find(s, r->element[0]->str))
			continue;
		argv[5 + n++] = r->element[0]->str;
	}
	if (n == 0)
		goto out;
	st = hd__redis_call(s->r, (int)(5 + n), argv, NULL, &c, err);
	for (size_t i = 0; st == HD_OK && i < c->elements; i++) {
		const redisReply *er = c->element[i];
		long d = 1;
		const char *owner = NULL;
		if (er->type != REDIS_REPLY_ARRAY || er->elements < 1)
			continue;
		for (size_t k = 0; k < p->elements; k++) {
			const redisReply *r = p->element[k];
			if (r->type == REDIS_REPLY_ARRAY && r->elements >= 4 &&
			    strcmp(r->element[0]->str, er->element[0]->str) ==
				0) {
				d = (long)r->element[3]->integer + 1;
				owner = r->element[1]->str;
				break;
			}
		}
		if (owner && strcmp(owner, s->consumer) == 0)
			owner = NULL;
		else if (owner)
			s->counts.claimed++;
		st = take_entry(s, er, d, owner, err);
	}
out:
	freeReplyObject(p);
	freeReplyObject(c);
	free(argv);
	return st;
}

/* New entries, as many as there is room for. */
static hd_status read_new(struct stream *s, hd_error *err)
{
	char count[24], block[24];
	const char *argv[11] = {"XREADGROUP", "GROUP", s->group,
				s->consumer,  "COUNT", count};
	int argc = 6;
	redisReply *rep = NULL;
	hd_status st;

	snprintf(count, sizeof(count), "%zu", s->room);
	if (s->wait_ms > 0) {
		snprintf(block, sizeof(block), "%ld", s->wait_ms);
		argv[argc++] = "BLOCK";
		argv[argc++] = block;
	}
	argv[argc++] = "STREAMS";
	argv[argc++] = s->key;
	argv[argc++] = ">";
	st = hd__redis_call(s->r, argc, argv, NULL, &rep, err);
	if (st != HD_OK)
		return st;
	if (rep->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; st == HD_OK && i < rep->elements; i++) {
			const redisReply *sr = rep->element[i];
			const redisReply *entries;
			if (sr->type != REDIS_REPLY_ARRAY || sr->elements < 2)
				continue;
			entries = sr->element[1];
			for (size_t k = 0; st == HD_OK &&
					   entries->type == REDIS_REPLY_ARRAY &&
					   k < entries->elements;
			     k++)
				st = take_entry(s, entries->element[k], 1, NULL,
						err);
		}
	}
	freeReplyObject(rep);
	return st;
}

static double claim_every(const struct stream *s)
{
	double t = (double)s->claim_idle_ms / 2000.0;

	return t < 0.1 ? 0.1 : t > 30 ? 30 : t;
}

static hd_status fetch(struct stream *s, hd_error *err)
{
	double now = hd_monotonic();
	hd_status st = HD_OK;

	if (!s->own_done) {
		s->own_done = 1;
		st = claim(s, 1, err);
	} else if (now >= s->next_claim) {
		s->next_claim = now + claim_every(s);
		st = claim(s, 0, err);
	}
	if (st == HD_OK && !s->qhead)
		st = read_new(s, err);
	return st;
}

static hd_status stream_next(void *state, json_t **record, long *line,
			     hd_error *err)
{
	struct stream *s = state;
	hd_status st;

	*record = NULL;
	*line = 0;
	for (;;) {
		struct entry *e;
		json_t *v = NULL;
		hd_error pe;
		char why[700];

		if (!s->qhead) {
			if (s->room == 0)
				return HD_EAGAIN;
			st = fetch(s, err);
			if (st != HD_OK)
				return st;
			if (!s->qhead)
				return HD_EAGAIN;
		}
		e = s->qhead;
		s->qhead = e->qnext;
		if (!s->qhead)
			s->qtail = NULL;
		e->qnext = NULL;
		if (s->max_deliveries > 0 &&
		    e->deliveries > s->max_deliveries) {
			snprintf(why, sizeof(why),
				 "delivered %ld times without an outcome "
				 "(--max-deliveries %ld)",
				 e->deliveries, s->max_deliveries);
			st = refuse(s, e, HD_ROW_FAILED, why, err);
			unhold(s, e);
			entry_free(e);
			if (st != HD_OK)
				return st;
			continue;
		}
		hd_error_clear(&pe);
		if (e->record && e->record_len <= (size_t)HD_SOURCE_MAX_RECORD)
			hd__json_parse_value(e->record, e->record_len, &v, NULL,
					     &pe);
		if (!json_is_object(v)) {
			snprintf(why, sizeof(why),
				 "entry %s: no JSON object in its field '%s'"
				 "%s%.300s",
				 e->id, s->field, pe.msg[0] ? ": " : "",
				 pe.msg);
			json_decref(v);
			s->counts.malformed++;
			st = refuse(s, e, HD_ROW_INVALID, why, err);
			unhold(s, e);
			entry_free(e);
			if (st != HD_OK)
				return st;
			continue;
		}
		snprintf(s->where, sizeof(s->where), "%s", e->id);
		s->counts.read++;
		/* one is on its way: the next read does not wait */
		s->wait_ms = 0;
		*record = v;
		return HD_OK;
	}
}

static hd_status stream_ack(void *state, const char *where, hd__ack how,
			    const char *outcome, hd_error *err)
{
	struct stream *s = state;
	struct entry *e = find(s, where);
	hd_status st = HD_OK;

	if (!e)
		return HD_OK;
	if (how == HD__ACK_DONE) {
		const char *xack[] = {"XACK", s->key, s->group, e->id};
		const char *xadd[] = {"XADD",	   s->results, "*",
				      "entry",	   e->id,      "consumer",
				      s->consumer, "result",   outcome};
		const char **argv[2] = {xack, xadd};
		int argc[2] = {4, 9};
		st = transact(s, s->results ? 2 : 1, argc, argv, err);
	} else if (s->max_deliveries > 0 &&
		   e->deliveries >= s->max_deliveries) {
		char why[200];
		snprintf(why, sizeof(why),
			 "delivered %ld times, the last without an outcome "
			 "(--max-deliveries %ld)",
			 e->deliveries, s->max_deliveries);
		st = dead_letter(s, e, why, outcome, err);
	}
	/* else: left pending, no longer touched: it comes back after
	 * claim_idle with its delivery count raised */
	unhold(s, e);
	entry_free(e);
	return st;
}

static void stream_where(const void *state, char *out, size_t size)
{
	const struct stream *s = state;

	snprintf(out, size, "%s", s->where);
}

static void stream_free(void *state)
{
	struct stream *s = state;
	struct entry *e;

	if (!s)
		return;
	while ((e = s->held) != NULL) {
		s->held = e->next;
		entry_free(e);
	}
	hd__redis_free(s->r);
	free(s->key);
	free(s->group);
	free(s->consumer);
	free(s->field);
	free(s->results);
	free(s->dead);
	free(s);
}

static const hd__source_ops stream_ops = {
    .name = "Redis stream",
    .next = stream_next,
    .ack = stream_ack,
    .where = stream_where,
    .free = stream_free,
};

void hd__stream_room(void *state, size_t n)
{
	((struct stream *)state)->room = n;
}

void hd__stream_wait(void *state, long ms)
{
	((struct stream *)state)->wait_ms = ms;
}

const char *hd__stream_owner(void *state, const char *where)
{
	struct entry *e = find(state, where);

	return e && e->owner[0] ? e->owner : NULL;
}

void hd__stream_get_counts(void *state, hd__stream_counts *out)
{
	*out = ((struct stream *)state)->counts;
}

/* Touches up to BEAT_BATCH held entries from e on; *next gets where the
 * next call starts. */
static hd_status beat(struct stream *s, struct entry *e, struct entry **next,
		      hd_error *err)
{
	const char *argv[6 + BEAT_BATCH];
	redisReply *rep = NULL;
	int argc = 0;
	hd_status st;

	argv[argc++] = "EVAL";
	argv[argc++] = beat_script;
	argv[argc++] = "1";
	argv[argc++] = s->key;
	argv[argc++] = s->group;
	argv[argc++] = s->consumer;
	for (; e && argc < 6 + BEAT_BATCH; e = e->next)
		argv[argc++] = e->id;
	*next = e;
	st = hd__redis_call(s->r, argc, argv, NULL, &rep, err);
	if (st == HD_OK && rep->type == REDIS_REPLY_ARRAY)
		s->counts.lost += (long)rep->elements;
	freeReplyObject(rep);
	return st;
}

hd_status hd__stream_tick(void *state, hd_error *err)
{
	struct stream *s = state;
	double now = hd_monotonic();
	double every = (double)s->claim_idle_ms / 3000.0;
	struct entry *e = s->held;
	hd_status st = HD_OK;

	if (now < s->next_beat || !e)
		return HD_OK;
	s->next_beat = now + (every < 0.05 ? 0.05 : every > 10 ? 10 : every);
	while (st == HD_OK && e)
		st = beat(s, e, &e, err);
	return st;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

hd_status hd__stream_open(hd__redis *r, const hd__stream_config *cfg,
			  hd_source **out, hd_error *err)
{
	struct stream *s = calloc(1, sizeof(*s));
	const char *create[] = {"XGROUP",   "CREATE", cfg->stream,
				cfg->group, "0",      "MKSTREAM"};
	redisReply *rep = NULL;
	char name[700];
	hd_error e;

	*out = NULL;
	if (!s) {
		hd__redis_free(r);
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
	s->r = r;
	s->key = strdup(cfg->stream);
	s->group = strdup(cfg->group);
	s->consumer = strdup(cfg->consumer);
	s->field = strdup(cfg->field ? cfg->field : "record");
	s->results = dup_or_null(cfg->results);
	s->dead = strdup(cfg->dead);
	s->max_deliveries = cfg->max_deliveries;
	s->claim_idle_ms = cfg->claim_idle_ms > 0 ? cfg->claim_idle_ms : 1;
	if (!s->key || !s->group || !s->consumer || !s->field || !s->dead ||
	    (cfg->results && !s->results)) {
		stream_free(s);
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
	/* the group, unless it is there */
	hd_error_clear(&e);
	if (hd__redis_call(r, 6, create, NULL, &rep, &e) != HD_OK &&
	    !strstr(e.msg, "BUSYGROUP")) {
		if (err)
			*err = e;
		stream_free(s);
		return e.code;
	}
	freeReplyObject(rep);
	snprintf(name, sizeof(name), "%s (group %s)", hd__redis_name(r),
		 cfg->group);
	return hd__source_new(&stream_ops, s, name, HD_FORMAT_AUTO, 1, out,
			      err);
}
