/* journal.c — the append-only JSON Lines journal, its lock and its index. */
#include "journal.h"

#include "buf.h"
#include "dedupe.h"
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define JOURNAL_FORMAT 1
#define LINE_MAX_BYTES (1L << 20) /* a record longer than this is foreign */
#define READ_CHUNK 65536

/* One key: its hash and its deciding record (offset << 8 | flags). */
struct slot {
	uint64_t h; /* 0: empty (hd_key_hash never gives 0) */
	uint64_t v;
};

#define V_STATE(v) ((hd__jstate)((v)&0x0f))
#define V_STARTED 0x10 /* the deciding record is a "start" */
#define V_OFFSET(v) ((v) >> 8)

/* A record in pending, for the live index: its key's hash, what it says
 * (hd__jstate and V_STARTED) and where in pending it starts. */
struct pend {
	uint64_t h, v;
	size_t rel;
};

struct hd_journal {
	int fd;
	int writable;
	char path[256];
	char campaign[64];
	struct slot *slot; /* live: under mu */
	size_t cap, n;	   /* live: under mu */
	hd_buf pending;	   /* records not yet written */
	int failed;	   /* a write or sync failed: nothing more goes */
	int live;	   /* flushed records go into the index */
	off_t end;	   /* where the next write lands (O_APPEND) */
	struct pend *pend; /* live: the records in pending */
	size_t npend, pend_cap;
	pthread_mutex_t mu; /* live: the index, between the committer's
			       flush and the coordinator's lookups */
};

/* ---- the index --------------------------------------------------------- */

static int table_grow(hd_journal *j)
{
	size_t cap = j->cap ? j->cap * 2 : 1024;
	struct slot *s = calloc(cap, sizeof(*s));

	if (!s)
		return -1;
	for (size_t i = 0; i < j->cap; i++) {
		size_t k;
		if (!j->slot[i].h)
			continue;
		for (k = j->slot[i].h & (cap - 1); s[k].h;
		     k = (k + 1) & (cap - 1))
			;
		s[k] = j->slot[i];
	}
	free(j->slot);
	j->slot = s;
	j->cap = cap;
	return 0;
}

static struct slot *table_find(const hd_journal *j, uint64_t h)
{
	if (!j->cap)
		return NULL;
	for (size_t k = h & (j->cap - 1);; k = (k + 1) & (j->cap - 1)) {
		if (j->slot[k].h == h)
			return &j->slot[k];
		if (!j->slot[k].h)
			return NULL;
	}
}

/* Notes that the record at off decides state for hash h ("sent" stays). */
static int table_put(hd_journal *j, uint64_t h, uint64_t v)
{
	struct slot *s = table_find(j, h);
	size_t k;

	if (s) {
		if (V_STATE(s->v) != HD__J_SENT)
			s->v = v;
		return 0;
	}
	if ((j->n + 1) * 4 > j->cap * 3 && table_grow(j) != 0)
		return -1;
	for (k = h & (j->cap - 1); j->slot[k].h; k = (k + 1) & (j->cap - 1))
		;
	j->slot[k].h = h;
	j->slot[k].v = v;
	j->n++;
	return 0;
}

/* ---- records ----------------------------------------------------------- */

static hd__jstate state_of_status(const char *s)
{
	switch (hd_row_status_parse(s)) {
	case HD_ROW_SENT:
		return HD__J_SENT;
	case HD_ROW_UNCERTAIN:
		return HD__J_UNCERTAIN;
	case HD_ROW_NOT_ATTEMPTED:
		return HD__J_NOT_ATTEMPTED;
	case HD_ROW_FAILED:
	case HD_ROW_INVALID:
		return HD__J_FAILED;
	default:
		return HD__J_NONE;
	}
}

/* Reads one record: its kind's state and flags into *v (without the
 * offset) and its key.  -1 when the line is not a record. */
static int parse_record(const char *line, size_t len, uint64_t *v, json_t **rec)
{
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *key = json_object_get(o, "key");

	*rec = NULL;
	if (!json_is_object(o) || !json_is_string(key))
		goto bad;
	if (json_is_integer(json_object_get(o, "start"))) {
		*v = HD__J_UNCERTAIN | V_STARTED;
	} else if (json_is_integer(json_object_get(o, "retry"))) {
		*v = HD__J_FAILED;
	} else if (json_is_integer(json_object_get(o, "end"))) {
		json_t *st = json_object_get(o, "status");
		hd__jstate s = json_is_string(st)
				   ? state_of_status(json_string_value(st))
				   : HD__J_NONE;
		if (s == HD__J_NONE)
			goto bad;
		*v = s;
	} else {
		goto bad;
	}
	*rec = o;
	return 0;
bad:
	json_decref(o);
	return -1;
}

static int parse_header(hd_journal *j, const char *line, size_t len)
{
	json_t *o = json_loadb(line, len, 0, NULL);
	json_t *f = json_object_get(o, "herald_journal");
	json_t *c = json_object_get(o, "campaign");
	int ok = json_is_integer(f) &&
		 json_integer_value(f) == JOURNAL_FORMAT && json_is_string(c) &&
		 json_string_length(c) > 0 && json_string_length(c) < 64;

	if (ok)
		snprintf(j->campaign, sizeof(j->campaign), "%s",
			 json_string_value(c));
	json_decref(o);
	return ok ? 0 : -1;
}

/* Reads the whole file: the header, then every record into the index.
 * *good is where the last complete line ends. */
static hd_status load(hd_journal *j, off_t *good, hd_error *err)
{
	char *buf = malloc(READ_CHUNK);
	hd_buf line = HD_BUF_INIT;
	off_t pos = 0, line_start = 0;
	long lineno = 0;
	hd_status st = HD_OK;
	ssize_t got;

	*good = 0;
	if (!buf)
		return hd_error_set(err, HD_ENOMEM, j->path, 0, 0, NULL);
	while ((got = pread(j->fd, buf, READ_CHUNK, pos)) > 0) {
		size_t i = 0;
		while (i < (size_t)got) {
			char *nl = memchr(buf + i, '\n', (size_t)got - i);
			size_t take =
			    nl ? (size_t)(nl - (buf + i)) : (size_t)got - i;
			uint64_t v;
			json_t *rec;

			if (line.len + take > LINE_MAX_BYTES) {
				st = hd_error_set(err, HD_EPARSE, j->path,
						  lineno + 1, 0,
						  "line too long: not a herald "
						  "journal");
				goto out;
			}
			if (hd_buf_append(&line, buf + i, take) != HD_OK) {
				st = hd_error_set(err, HD_ENOMEM, j->path, 0, 0,
						  NULL);
				goto out;
			}
			i += take;
			if (!nl)
				break;
			i++; /* the newline */
			lineno++;
			if (lineno == 1) {
				if (parse_header(j, line.data ? line.data : "",
						 line.len) != 0) {
					st = hd_error_set(
					    err, HD_EPARSE, j->path, 1, 0,
					    "not a herald journal (its first "
					    "line names no campaign)");
					goto out;
				}
			} else if (parse_record(line.data ? line.data : "",
						line.len, &v, &rec) != 0) {
				st = hd_error_set(
				    err, HD_EPARSE, j->path, lineno, 0,
				    "not a herald journal record");
				goto out;
			} else {
				const char *k = json_string_value(
				    json_object_get(rec, "key"));
				uint64_t h = hd_key_hash(k, strlen(k));
				int rc = table_put(
				    j, h, (uint64_t)line_start << 8 | v);
				json_decref(rec);
				if (rc != 0) {
					st = hd_error_set(err, HD_ENOMEM,
							  j->path, 0, 0, NULL);
					goto out;
				}
			}
			line_start = pos + (off_t)i;
			*good = line_start;
			hd_buf_reset(&line);
		}
		pos += got;
	}
	if (got < 0)
		st = hd_error_set(err, HD_EIO, j->path, 0, 0,
				  "cannot read the journal: %s",
				  strerror(errno));
out:
	free(buf);
	hd_buf_free(&line);
	return st;
}

/* ---- opening ----------------------------------------------------------- */

static hd_status lock_it(hd_journal *j, hd_error *err)
{
	struct flock fl = {0};

	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(j->fd, F_SETLK, &fl) == 0)
		return HD_OK;
	if (errno != EACCES && errno != EAGAIN)
		return hd_error_set(err, HD_ECREATE, j->path, 0, 0,
				    "cannot lock the journal: %s",
				    strerror(errno));
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(j->fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		return hd_error_set(err, HD_ELOCKED, j->path, 0, 0,
				    "in use by another herald run (pid %ld); "
				    "try again when it has finished",
				    (long)fl.l_pid);
	return hd_error_set(err, HD_ELOCKED, j->path, 0, 0,
			    "in use by another herald run; try again when "
			    "it has finished");
}

static hd_status write_all(hd_journal *j, const char *p, size_t n)
{
	return hd__write_all(j->fd, p, n) == 0 ? HD_OK : HD_EIO;
}

static hd_status write_header(hd_journal *j, hd_error *err)
{
	hd_buf b = HD_BUF_INIT;
	char at[32];
	json_t *o = json_object();
	char *s;
	hd_status st;

	hd_format_timestamp((double)time(NULL), at);
	json_object_set_new(o, "herald_journal", json_integer(JOURNAL_FORMAT));
	json_object_set_new(o, "campaign", json_string(j->campaign));
	json_object_set_new(o, "created", json_string(at));
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	st = s ? hd_buf_printf(&b, "%s\n", s) : HD_ENOMEM;
	free(s);
	if (st == HD_OK)
		st = write_all(j, b.data, b.len);
	if (st == HD_OK && fdatasync(j->fd) != 0)
		st = HD_EIO;
	hd_buf_free(&b);
	if (st != HD_OK)
		return hd_error_set(err, HD_ECREATE, j->path, 0, 0,
				    "cannot write the journal: %s",
				    strerror(errno));
	return HD_OK;
}

hd_status hd__journal_open(const char *path, int writable, const char *campaign,
			   const char *new_campaign, hd_journal **out,
			   hd_error *err)
{
	hd_journal *j = calloc(1, sizeof(*j));
	struct stat sb;
	off_t good = 0;
	hd_status st = HD_OK;

	*out = NULL;
	if (!j)
		return hd_error_set(err, HD_ENOMEM, path, 0, 0, NULL);
	pthread_mutex_init(&j->mu, NULL);
	snprintf(j->path, sizeof(j->path), "%s", path);
	j->writable = writable;
	j->fd = open(path,
		     writable ? O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC
			      : O_RDONLY | O_CLOEXEC,
		     0600);
	if (j->fd < 0 && !writable && errno == ENOENT) {
		/* check or dry run before the first send: nothing known */
		snprintf(j->campaign, sizeof(j->campaign), "%s",
			 campaign ? campaign : new_campaign);
		*out = j;
		return HD_OK;
	}
	if (j->fd < 0) {
		st = hd_error_set(err, HD_ECREATE, path, 0, 0,
				  "cannot open the journal: %s",
				  strerror(errno));
		goto out;
	}
	if (fstat(j->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		st = hd_error_set(err, HD_ECREATE, path, 0, 0,
				  "the journal is not a regular file");
		goto out;
	}
	if (writable && (st = lock_it(j, err)) != HD_OK)
		goto out;
	st = load(j, &good, err);
	if (st != HD_OK)
		goto out;
	if (good == 0) {
		/* new, or torn while its header was written */
		snprintf(j->campaign, sizeof(j->campaign), "%s",
			 campaign ? campaign : new_campaign);
		if (writable) {
			if (ftruncate(j->fd, 0) != 0) {
				st = hd_error_set(err, HD_ECREATE, path, 0, 0,
						  "cannot write the journal: "
						  "%s",
						  strerror(errno));
				goto out;
			}
			st = write_header(j, err);
		}
		goto out;
	}
	if (campaign && strcmp(campaign, j->campaign) != 0) {
		st = hd_error_set(err, HD_EUSAGE, path, 0, 0,
				  "the journal belongs to campaign '%s', not "
				  "'%s' (leave --campaign out, or use another "
				  "journal)",
				  j->campaign, campaign);
		goto out;
	}
	/* a torn last line (a crash mid-write) goes before we append */
	if (writable && good < sb.st_size && ftruncate(j->fd, good) != 0)
		st = hd_error_set(err, HD_ECREATE, path, 0, 0,
				  "cannot repair the journal's last line: %s",
				  strerror(errno));
out:
	if (st == HD_OK && j->fd >= 0) {
		off_t e = lseek(j->fd, 0, SEEK_END);
		if (e < 0)
			st = hd_error_set(err, HD_ECREATE, path, 0, 0,
					  "cannot seek in the journal: %s",
					  strerror(errno));
		j->end = e;
	}
	if (st != HD_OK) {
		hd__journal_close(j, NULL);
		return st;
	}
	*out = j;
	return HD_OK;
}

void hd__journal_live(hd_journal *j)
{
	j->live = 1;
}

const char *hd__journal_campaign(const hd_journal *j)
{
	return j->campaign;
}

size_t hd__journal_keys(const hd_journal *j)
{
	return j->n;
}

/* ---- lookups ----------------------------------------------------------- */

/* Reads the line starting at off back from the file. */
static hd_status read_line_at(hd_journal *j, off_t off, hd_buf *line)
{
	char chunk[4096];

	for (;;) {
		ssize_t got = pread(j->fd, chunk, sizeof(chunk), off);
		char *nl;
		if (got <= 0)
			return HD_EIO;
		nl = memchr(chunk, '\n', (size_t)got);
		if (hd_buf_append(line, chunk,
				  nl ? (size_t)(nl - chunk) : (size_t)got) !=
		    HD_OK)
			return HD_ENOMEM;
		if (nl)
			return HD_OK;
		if ((long)line->len > LINE_MAX_BYTES)
			return HD_EIO;
		off += got;
	}
}

hd_status hd__journal_lookup(hd_journal *j, const char *id, hd__jinfo *info,
			     hd_error *err)
{
	struct slot *s;
	hd_buf line = HD_BUF_INIT;
	json_t *rec = NULL;
	uint64_t v, rv;
	hd_status st;

	memset(info, 0, sizeof(*info));
	if (j->live)
		pthread_mutex_lock(&j->mu);
	s = table_find(j, hd_key_hash(id, strlen(id)));
	v = s ? s->v : 0;
	if (j->live)
		pthread_mutex_unlock(&j->mu);
	if (!s)
		return HD_OK;
	st = read_line_at(j, (off_t)V_OFFSET(v), &line);
	if (st == HD_OK &&
	    parse_record(line.data ? line.data : "", line.len, &rv, &rec) != 0)
		st = HD_EIO;
	hd_buf_free(&line);
	if (st != HD_OK)
		return hd_error_set(err, HD_EIO, j->path, 0, 0,
				    "cannot read a journal record back");
	/* the hash matched; only the exact key makes it this row's */
	if (strcmp(json_string_value(json_object_get(rec, "key")), id) == 0) {
		json_t *at = json_object_get(rec, "at");
		json_t *e = json_object_get(rec, "error");
		info->state = V_STATE(v);
		info->started_only = (v & V_STARTED) != 0;
		if (json_is_string(at))
			snprintf(info->at, sizeof(info->at), "%s",
				 json_string_value(at));
		if (json_is_string(e))
			snprintf(info->error, sizeof(info->error), "%s",
				 json_string_value(e));
	}
	json_decref(rec);
	return HD_OK;
}

/* ---- appending ----------------------------------------------------------- */

/* Appends record o (taken) for identity id, which it says v of. */
static hd_status add(hd_journal *j, json_t *o, const char *id, uint64_t v)
{
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	size_t rel = j->pending.len;
	hd_status st = s ? hd_buf_printf(&j->pending, "%s\n", s) : HD_ENOMEM;

	free(s);
	json_decref(o);
	if (st != HD_OK || !j->live || V_STATE(v) == HD__J_NONE)
		return st;
	if (j->npend == j->pend_cap) {
		size_t cap = j->pend_cap ? j->pend_cap * 2 : 64;
		struct pend *p = realloc(j->pend, cap * sizeof(*p));
		if (!p) {
			/* the index misses it; the file has it: a lookup
			 * errs towards "not sent", the journal's start
			 * before it towards "uncertain" */
			j->pending.len = rel;
			return HD_ENOMEM;
		}
		j->pend = p;
		j->pend_cap = cap;
	}
	j->pend[j->npend].h = hd_key_hash(id, strlen(id));
	j->pend[j->npend].v = v;
	j->pend[j->npend].rel = rel;
	j->npend++;
	return HD_OK;
}

static json_t *str_or_null(const char *s)
{
	json_t *v = s ? json_string(s) : NULL;
	return v ? v : json_null();
}

static hd_status add_attempt(hd_journal *j, const char *kind, long row,
			     const char *id, int attempt, double at)
{
	json_t *o = json_object();
	char ts[32];

	hd_format_timestamp(at, ts);
	json_object_set_new(o, kind, json_integer(row));
	json_object_set_new(o, "key", json_string(id));
	json_object_set_new(o, "attempt", json_integer(attempt));
	json_object_set_new(o, "at", json_string(ts));
	return add(j, o, id,
		   strcmp(kind, "start") == 0 ? HD__J_UNCERTAIN | V_STARTED
					      : HD__J_FAILED);
}

hd_status hd__journal_add_start(hd_journal *j, long row, const char *id,
				int attempt, double at)
{
	return add_attempt(j, "start", row, id, attempt, at);
}

hd_status hd__journal_add_retry(hd_journal *j, long row, const char *id,
				int attempt, double at)
{
	return add_attempt(j, "retry", row, id, attempt, at);
}

hd_status hd__journal_add_end(hd_journal *j, const hd_report_row *r,
			      const char *id)
{
	json_t *o = json_object();
	char ts[32];

	hd_format_timestamp(r->at, ts);
	json_object_set_new(o, "end", json_integer(r->row));
	json_object_set_new(o, "key", json_string(id));
	json_object_set_new(o, "status",
			    json_string(hd_row_status_name(r->status)));
	json_object_set_new(o, "code",
			    r->code ? json_integer(r->code) : json_null());
	json_object_set_new(o, "message_id", str_or_null(r->message_id));
	json_object_set_new(o, "error", str_or_null(r->error));
	json_object_set_new(o, "at", json_string(ts));
	return add(j, o, id, state_of_status(hd_row_status_name(r->status)));
}

/* The records just written go into the index (live journals). */
static void index_written(hd_journal *j)
{
	pthread_mutex_lock(&j->mu);
	for (size_t i = 0; i < j->npend; i++) {
		uint64_t off = (uint64_t)j->end + j->pend[i].rel;
		/* out of memory: that key is not found, as if it were
		 * new; its start in the file still says uncertain to the
		 * next run */
		(void)table_put(j, j->pend[i].h, off << 8 | j->pend[i].v);
	}
	pthread_mutex_unlock(&j->mu);
}

hd_status hd__journal_flush(hd_journal *j, int sync, hd_error *err)
{
	if (j->failed)
		return HD_EIO;
	if (j->pending.len &&
	    write_all(j, j->pending.data, j->pending.len) != HD_OK)
		j->failed = 1;
	if (!j->failed && j->live)
		index_written(j);
	j->end += (off_t)j->pending.len;
	j->npend = 0;
	hd_buf_reset(&j->pending);
	if (!j->failed && sync && fdatasync(j->fd) != 0)
		j->failed = 1;
	if (j->failed)
		return hd_error_set(err, HD_EIO, j->path, 0, 0,
				    "cannot write the journal: %s",
				    strerror(errno));
	return HD_OK;
}

hd_status hd__journal_close(hd_journal *j, hd_error *err)
{
	hd_status st = HD_OK;

	if (!j)
		return HD_OK;
	if (j->fd >= 0 && j->writable)
		st = hd__journal_flush(j, 1, err);
	if (j->fd >= 0)
		close(j->fd); /* drops the lock */
	hd_buf_free(&j->pending);
	free(j->pend);
	free(j->slot);
	pthread_mutex_destroy(&j->mu);
	free(j);
	return st;
}
