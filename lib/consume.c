/*
 * consume.c — herald consume: send tasks from a Redis stream's consumer
 * group, the wiring beside run.c.
 *
 *   stream (source_stream.c) ─► onepass.c: check jobs ─► filter ─► send
 *   jobs ─► committer (report, journal) ─► once on disk: XACK + results
 *
 * The pipeline is the file runs' (wire.c, onepass.c); what is the stream's
 * own is here: its journal in a folder beside the other consumers', the
 * campaign every consumer of the group shares, the others' journals asked
 * about the entries taken over from them, the room and the waiting that
 * make the pool's queue the backpressure, the idle timeout, and how a stop
 * ends (0 when nothing was left undone, 75 when entries wait for later).
 *
 * Why duplicates stay within what the journals call uncertain, across
 * consumers (README, "A Redis stream"): an entry is acknowledged only
 * after its outcome is on disk in the journal of the consumer that sent
 * it; while a consumer holds an entry it keeps it from looking idle
 * (stream.h); an entry taken over from a consumer that died is first
 * looked up in that consumer's journal, which says whether it was sent,
 * left uncertain, or never went.  Message-IDs and Idempotency-Keys come
 * from the campaign and the key, the same on every consumer.
 */
#include "onepass.h"
#include "redis.h"
#include "source_int.h"
#include "stream.h"
#include "wire.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_DELIVERIES 5
#define DEFAULT_CLAIM_IDLE 60.0 /* seconds */
#define WAIT_MS 500		/* longest a read waits: signals are seen */
#define MAX_PEERS 64		/* other consumers' journals kept open */

/* Another consumer's journal, read when its entries are taken over. */
struct peer {
	char name[128];
	hd_journal *journal; /* NULL: none there */
	off_t size;	     /* the file's size when it was read */
};

struct consume {
	hd__wire *w;
	const hd_consume_config *cfg;
	void *stream; /* the source's state */
	size_t limit;
	char consumer[128];
	struct peer peers[MAX_PEERS];
	size_t npeers;
};

/* A consumer's name is a file name in the journal folder. */
static int good_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= 100 || s[0] == '.')
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-@") == n;
}

static void default_consumer(char *out, size_t size)
{
	char host[256] = "";

	if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
		snprintf(host, sizeof(host), "herald");
	for (char *p = host; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
			    "YZ0123456789._-@",
			    *p))
			*p = '-';
	snprintf(out, size, "%.99s", host[0] == '.' ? host + 1 : host);
}

/* The journal of consumer name in the folder. */
static void journal_path(const struct consume *c, const char *name, char *out,
			 size_t size)
{
	snprintf(out, size, "%s/%s.journal", c->cfg->journal_dir, name);
}

/* ---- the others' journals --------------------------------------------- */

static struct peer *peer(struct consume *c, const char *name)
{
	char path[4200];
	struct stat st;
	struct peer *p = NULL;
	hd_error e;

	if (!good_name(name) || !strcmp(name, c->consumer))
		return NULL;
	for (size_t i = 0; i < c->npeers; i++)
		if (!strcmp(c->peers[i].name, name))
			p = &c->peers[i];
	if (!p) {
		if (c->npeers == MAX_PEERS) {
			hd__journal_close(c->peers[0].journal, NULL);
			memmove(&c->peers[0], &c->peers[1],
				(MAX_PEERS - 1) * sizeof(c->peers[0]));
			c->npeers--;
		}
		p = &c->peers[c->npeers++];
		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->size = -1;
	}
	journal_path(c, name, path, sizeof(path));
	if (stat(path, &st) != 0) {
		hd__journal_close(p->journal, NULL);
		p->journal = NULL;
		p->size = -1;
		return p;
	}
	if (st.st_size == p->size && p->journal)
		return p;
	/* new, or it grew since (a consumer that was slow, not dead) */
	hd__journal_close(p->journal, NULL);
	p->journal = NULL;
	p->size = st.st_size;
	hd_error_clear(&e);
	if (hd__journal_open(path, 0, NULL, "none", &p->journal, &e) != HD_OK) {
		char line[900];
		hd_error_format(&e, line, sizeof(line));
		hd__wire_note(c->w, "cannot read consumer %s's journal: %s",
			      name, line);
	}
	return p;
}

/* An entry taken over from another consumer: what its journal says of the
 * key decides first. */
static int decide(void *ctx, const char *where, const char *id, hd__verdict *v)
{
	struct consume *c = ctx;
	const char *owner = hd__stream_owner(c->stream, where);
	struct peer *p = owner ? peer(c, owner) : NULL;
	hd__jinfo ji;
	hd_error e;

	if (!p || !p->journal ||
	    hd__journal_lookup(p->journal, id, &ji, &e) != HD_OK)
		return 0;
	memset(v, 0, sizeof(*v));
	if (ji.state == HD__J_SENT) {
		v->status = HD_ROW_SKIPPED;
		snprintf(v->reason, sizeof(v->reason),
			 "sent earlier by consumer %.100s, %s", owner, ji.at);
		return 1;
	}
	if (ji.state != HD__J_UNCERTAIN)
		return 0; /* it never went: the filter decides */
	if (c->cfg->run.on_uncertain_skip) {
		v->status = HD_ROW_UNCERTAIN;
		snprintf(v->reason, sizeof(v->reason),
			 "held back (--on-uncertain skip): consumer %.100s "
			 "started a send at %s and recorded no outcome",
			 owner, ji.at);
		return 1;
	}
	hd__wire_note_resend(c->w, 0, id,
			     ji.started_only
				 ? "another consumer started a send and "
				   "recorded no outcome"
				 : "uncertain on another consumer");
	return 0;
}

/* ---- each turn ----------------------------------------------------------- */

static hd_status tick(void *ctx, const hd__onepass_view *v, int *stop,
		      hd_error *err)
{
	struct consume *c = ctx;
	double idle = c->cfg->exit_when_idle;

	hd__stream_room(c->stream,
			v->inflight < c->limit ? c->limit - v->inflight : 0);
	/* nothing on its way: a read may wait for entries (a while: a stop
	 * is looked at twice a second) */
	hd__stream_wait(c->stream, v->inflight ? 0 : WAIT_MS);
	if (idle > 0 && v->inflight == 0 &&
	    hd_monotonic() - v->last_read >= idle) {
		*stop = 1;
		snprintf(err->msg, sizeof(err->msg),
			 "nothing to do for %.0f s (--exit-when-idle)", idle);
		return HD_OK;
	}
	return hd__stream_tick(c->stream, err);
}

/* ---- setting up ---------------------------------------------------------- */

static hd_status check_settings(const hd_consume_config *cfg, hd__redis_url *u,
				struct consume *c, char *campaign,
				hd_error *err)
{
	hd_status st;

	if (!cfg->run.template_path)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "a template (-t) is required");
	if (!cfg->group || !*cfg->group)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "a consumer group (--group) is required");
	if (!cfg->journal_dir)
		return hd_error_set(
		    err, HD_EUSAGE, NULL, 0, 0,
		    "a journal folder (--journal-dir) is required: an entry "
		    "is acknowledged only once its outcome is in the "
		    "consumer's journal");
	if (cfg->run.dry_run || cfg->run.check_only)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "consume sends: a dry run would take the "
				    "entries from the stream");
	if (cfg->run.smtp_url && cfg->run.outbox_dir)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "--smtp and --outbox exclude each other");
	st = hd__redis_url_parse(cfg->url, u, err);
	if (st != HD_OK)
		return st;
	if (cfg->consumer)
		snprintf(c->consumer, sizeof(c->consumer), "%s", cfg->consumer);
	else
		default_consumer(c->consumer, sizeof(c->consumer));
	if (!good_name(c->consumer))
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "--consumer takes 1 to 99 of A-Z a-z 0-9 "
				    ". _ - @, not starting with '.' (it "
				    "names the journal file)");
	/* one campaign for the whole group, so that every consumer makes
	 * the same Message-ID and Idempotency-Key for a key */
	if (cfg->run.campaign)
		snprintf(campaign, 64, "%s", cfg->run.campaign);
	else if (strlen(u->stream) + strlen(cfg->group) + 1 <= 60)
		snprintf(campaign, 64, "%s/%s", u->stream, cfg->group);
	else
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "the stream and group names are too long "
				    "to make the campaign: give --campaign");
	return HD_OK;
}

/* The outbox names files by row, and a consumer's rows start at 1 each
 * run: an outbox with files in it would be written over. */
static hd_status check_outbox(const char *dir, hd_error *err)
{
	DIR *d = dir ? opendir(dir) : NULL;
	struct dirent *e;
	int used = 0;

	if (!d)
		return HD_OK;
	while (!used && (e = readdir(d)) != NULL)
		used = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	if (used)
		return hd_error_set(err, HD_EUSAGE, dir, 0, 0,
				    "consume writes into an empty outbox only "
				    "(its files are named by the entry's "
				    "number in this run)");
	return HD_OK;
}

static hd_status make_folder(const char *dir, hd_error *err)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return hd_error_set(err, HD_ECREATE, dir, 0, 0,
				    "cannot create the journal folder: %s",
				    strerror(errno));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return hd_error_set(err, HD_ECREATE, dir, 0, 0,
				    "the journal folder is not a folder");
	return HD_OK;
}

static hd_status set_up(struct consume *c, const hd__redis_url *u,
			const char *campaign, hd_error *err)
{
	const hd_consume_config *cfg = c->cfg;
	hd__wire *w = c->w;
	hd_msgtmpl_opts mo = {.env_names = cfg->run.env_names,
			      .n_env = cfg->run.n_env,
			      .redirect = cfg->run.redirect,
			      .mail = &cfg->run.mail,
			      .outputs = &w->outputs};
	hd__stream_config sc = {0};
	hd__redis *r = NULL;
	char jpath[4200], dead[600];
	hd_status st;

	journal_path(c, c->consumer, jpath, sizeof(jpath));
	st = make_folder(cfg->journal_dir, err);
	if (st == HD_OK)
		st = check_outbox(hd__wire_outbox(&cfg->run), err);
	if (st == HD_OK)
		st = hd__outputs_add(&w->outputs, cfg->run.report_path,
				     "the report (-o)", 0, err);
	if (st == HD_OK)
		st = hd__outputs_add(&w->outputs, jpath, "the journal", 0, err);
	if (st == HD_OK)
		st = hd__outputs_add(&w->outputs, hd__wire_outbox(&cfg->run),
				     "the outbox", 1, err);
	if (st == HD_OK)
		st = hd__outputs_check(&w->outputs, cfg->run.template_path,
				       "the template", err);
	if (st == HD_OK && cfg->run.report_path)
		st = hd_report_open(cfg->run.report_path, &w->report, err);
	if (st == HD_OK)
		st = hd__wire_open_journal(w, jpath, campaign, err);
	if (st == HD_OK)
		st =
		    hd_msgtmpl_load(cfg->run.template_path, &mo, &w->tmpl, err);
	if (st == HD_OK)
		st = hd__wire_choose_transport(w, err);
	if (st == HD_OK)
		st = hd__wire_set_up_sender(w, err);
	if (st == HD_OK)
		st = hd__wire_open_filter(w, HD__DEDUPE_NONE, err);
	if (st == HD_OK)
		st = hd__redis_connect(u, cfg->password, &r, err);
	if (st != HD_OK)
		return st;
	snprintf(dead, sizeof(dead), "%s:dead", u->stream);
	sc.stream = u->stream;
	sc.group = cfg->group;
	sc.consumer = c->consumer;
	sc.field = cfg->field;
	sc.results = cfg->results;
	sc.dead = cfg->dead_letter ? cfg->dead_letter : dead;
	sc.max_deliveries = cfg->max_deliveries == 0  ? DEFAULT_MAX_DELIVERIES
			    : cfg->max_deliveries < 0 ? 0
						      : cfg->max_deliveries;
	sc.claim_idle_ms = (long)((cfg->claim_idle > 0 ? cfg->claim_idle
						       : DEFAULT_CLAIM_IDLE) *
				  1000.0);
	st = hd__stream_open(r, &sc, &w->src, err);
	if (st != HD_OK)
		return st;
	c->stream = hd__source_state(w->src);
	c->limit = hd__wire_queue(w);
	hd__journal_live(w->journal);
	/* a key that needs no record is said now; one from the first
	 * record's fields when it comes */
	if (cfg->run.key_field || hd_msgtmpl_kind(w->tmpl) == HD_MSG_EMAIL) {
		hd__key_choose(&w->key, cfg->run.key_field, w->tmpl, NULL);
		w->key_chosen = 1;
		hd__wire_note(w, "recipient key: %s", w->key.desc);
	}
	hd__wire_note(
	    w, "consumer %s of group %s on %s: journal %s, campaign %s",
	    c->consumer, cfg->group, hd__redis_name(r), jpath, w->campaign);
	return hd__commit_start(w->report, w->journal, &w->commit, err);
}

/* How a stop ends: a signal, --max-runtime or --exit-when-idle are the
 * consumer's normal ends (exit 0), unless entries it held were left for
 * later (75); the workers' halts keep their status. */
static hd_status how_it_ended(struct consume *c, hd_status st, hd_error *err)
{
	hd__wire *w = c->w;
	int halted = atomic_load(&w->sender.halt) != 0;

	if (st != HD_OK || !w->stopping)
		return st;
	if (halted ||
	    (w->stop_status != HD_OK && w->stop_status != HD_EINTERRUPTED))
		return hd_error_set(err, w->stop_status, NULL, 0, 0, "%s",
				    w->stop_msg);
	if (w->stats.not_attempted > 0)
		return hd_error_set(err, HD_EINTERRUPTED, NULL, 0, 0,
				    "%s; %ld entr%s left pending for later",
				    w->stop_msg, w->stats.not_attempted,
				    w->stats.not_attempted == 1 ? "y" : "ies");
	return HD_OK;
}

hd_status hd_consume(const hd_consume_config *cfg, hd_run_stats *stats,
		     hd_error *err)
{
	hd__wire w;
	struct consume c;
	hd__redis_url u;
	hd__onepass_hooks hooks = {0};
	char campaign[64] = "";
	hd_status st;

	memset(&c, 0, sizeof(c));
	hd_error_clear(err);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0,
				    "libcurl could not be initialised");
	hd__wire_init(&w, &cfg->run);
	c.w = &w;
	c.cfg = cfg;
	hooks.ctx = &c;
	hooks.tick = tick;
	hooks.decide = decide;
	st = check_settings(cfg, &u, &c, campaign, err);
	if (st == HD_OK)
		st = set_up(&c, &u, campaign, err);
	if (st == HD_OK) {
		w.sender.journal = w.commit;
		w.sender.failfast_rows = HD__FAILFAST_ROWS;
		st = hd__onepass_run(&w, NULL, &hooks, err);
		st = how_it_ended(&c, st, err);
	}
	if (w.src) {
		hd__stream_counts sc;
		hd__stream_get_counts(c.stream, &sc);
		if (sc.dead || sc.lost)
			hd__wire_note(&w,
				      "%ld entr%s to the dead-letter stream "
				      "(%ld without a record); %ld taken by "
				      "another consumer while held here",
				      sc.dead, sc.dead == 1 ? "y" : "ies",
				      sc.malformed, sc.lost);
	}
	st = hd__wire_finish(&w, st, err);
	if (stats)
		*stats = w.stats;
	for (size_t i = 0; i < c.npeers; i++)
		hd__journal_close(c.peers[i].journal, NULL);
	hd__wire_cleanup(&w);
	curl_global_cleanup();
	return st;
}
