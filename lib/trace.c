/* trace.c — --trace FILE: lines from the workers, one writer thread. */
#include "trace.h"

#include "buf.h"
#include "fdio.h"
#include "redact.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_SHOWN 2000 /* bytes of one traced line */

struct hd__trace {
	pthread_mutex_t mu; /* leaf lock: guards pending, closing, failed */
	pthread_cond_t more, room;
	hd_buf pending; /* lines for the writer */
	int closing;
	int failed; /* errno of the first failed write, or 0 */
	int fd;
	pthread_t writer;
	char *secrets[HD__TRACE_SECRETS];
	size_t nsecrets;
	atomic_uint next_id; /* connections numbered so far */
};

static void *writer_main(void *arg)
{
	hd__trace *t = arg;
	hd_buf mine = HD_BUF_INIT;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		hd_buf swap;
		while (!t->pending.len && !t->closing)
			pthread_cond_wait(&t->more, &t->mu);
		if (!t->pending.len && t->closing)
			break;
		swap = t->pending;
		t->pending = mine;
		mine = swap;
		pthread_cond_broadcast(&t->room);
		pthread_mutex_unlock(&t->mu);
		if (hd__write_all(t->fd, mine.data, mine.len) < 0 && !t->failed)
			t->failed = errno ? errno : EIO;
		hd_buf_reset(&mine);
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	hd_buf_free(&mine);
	return NULL;
}

hd_status hd__trace_open(const char *path, const char *const *secrets, size_t n,
			 hd__trace **out, hd_error *err)
{
	hd__trace *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return hd_error_set(err, HD_ENOMEM, path, 0, 0, NULL);
	t->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (t->fd < 0) {
		hd_error_set(err, HD_ECREATE, path, 0, 0,
			     "cannot create the trace: %s", strerror(errno));
		free(t);
		return HD_ECREATE;
	}
	for (size_t i = 0; i < n && t->nsecrets < HD__TRACE_SECRETS; i++)
		if (secrets[i] && strlen(secrets[i]) >= HD__REDACT_MIN &&
		    (t->secrets[t->nsecrets] = strdup(secrets[i])) != NULL)
			t->nsecrets++;
	hd_buf_init(&t->pending);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->more, NULL);
	pthread_cond_init(&t->room, NULL);
	if (pthread_create(&t->writer, NULL, writer_main, t) != 0) {
		close(t->fd);
		t->fd = -1;
		t->closing = 1;
		hd__trace_close(t, NULL);
		return hd_error_set(err, HD_ENOMEM, path, 0, 0,
				    "cannot start the trace's writer");
	}
	*out = t;
	return HD_OK;
}

hd_status hd__trace_open_run(const hd_run_config *cfg, hd__trace **out,
			     hd_error *err)
{
	const char *secrets[HD__TRACE_SECRETS];
	size_t n = 0;

	*out = NULL;
	if (!cfg->trace_path)
		return HD_OK;
	if (cfg->smtp_password)
		secrets[n++] = cfg->smtp_password;
	for (size_t i = 0; i < cfg->n_env && n < HD__TRACE_SECRETS; i++)
		secrets[n++] = getenv(cfg->env_names[i]);
	return hd__trace_open(cfg->trace_path, secrets, n, out, err);
}

void hd__trace_conn_init(hd__trace_conn *c, hd__trace *t, unsigned id)
{
	memset(c, 0, sizeof(*c));
	c->t = t;
	c->id = id;
}

unsigned hd__trace_next_id(hd__trace *t)
{
	return t ? atomic_fetch_add(&t->next_id, 1) + 1 : 0;
}

void hd__trace_attempt(hd__trace_conn *c, long row)
{
	c->row = row;
	c->body = c->skipped = 0;
	c->challenged = 0;
}

int hd__trace_debug_cb(CURL *h, curl_infotype type, char *data, size_t size,
		       void *conn)
{
	hd__trace_conn *c = conn;

	(void)h;
	hd__trace_curl(c, c->row, type, data, size);
	return 0;
}

/* "2026-12-03T13:30:09.123Z" */
static void stamp(char out[32])
{
	struct timeval tv;
	struct tm tm;
	time_t s;

	gettimeofday(&tv, NULL);
	s = tv.tv_sec;
	gmtime_r(&s, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + strlen(out), 32 - strlen(out), ".%03ldZ",
		 (long)(tv.tv_usec / 1000));
}

/* What of a line may be written: credentials out. */
static void mask_line(hd__trace_conn *c, char dir, char *s)
{
	const char *colon;

	if (dir == '<') {
		c->challenged = !strncmp(s, "334", 3) && (s[3] == ' ' || !s[3]);
		return;
	}
	if (dir != '>')
		return;
	if (c->challenged) {
		/* AUTH LOGIN and the like: the line is a credential */
		c->challenged = 0;
		strcpy(s, "***");
		return;
	}
	if (!strncasecmp(s, "AUTH ", 5)) {
		char *arg = strchr(s + 5, ' ');
		if (arg && arg[1])
			strcpy(arg + 1, "***");
		return;
	}
	colon = strchr(s, ':');
	if (colon && colon > s && colon[1] == ' ' &&
	    strcspn(s, " \t") > (size_t)(colon - s) &&
	    hd__redact_secret_header(s, (size_t)(colon - s)))
		strcpy((char *)colon + 2, "***");
}

/* Hands one finished line to the writer; waits while it is far behind. */
static void put(hd__trace *t, const char *line, size_t n)
{
	pthread_mutex_lock(&t->mu);
	while (t->pending.len > (size_t)HD__TRACE_BUFFER && !t->closing)
		pthread_cond_wait(&t->room, &t->mu);
	if (hd_buf_append(&t->pending, line, n) == HD_OK)
		pthread_cond_signal(&t->more);
	pthread_mutex_unlock(&t->mu);
}

static void one_line(hd__trace_conn *c, long row, char dir, const char *p,
		     size_t n)
{
	char text[LINE_MAX_SHOWN + 8], when[32], head[96];
	char out[LINE_MAX_SHOWN + 160];
	int len;

	if (n > LINE_MAX_SHOWN)
		n = LINE_MAX_SHOWN;
	memcpy(text, p, n);
	text[n] = '\0';
	mask_line(c, dir, text);
	hd__redact(text, (const char *const *)c->t->secrets, c->t->nsecrets);
	stamp(when);
	if (row > 0)
		snprintf(head, sizeof(head), "%s #%u row %ld", when, c->id,
			 row);
	else
		snprintf(head, sizeof(head), "%s #%u", when, c->id);
	len = snprintf(out, sizeof(out), "%s %c %s\n", head, dir, text);
	if (len > 0)
		put(c->t, out,
		    (size_t)len < sizeof(out) ? (size_t)len : sizeof(out) - 1);
}

void hd__trace_line(hd__trace_conn *c, long row, char dir, const char *data,
		    size_t n)
{
	const char *p = data, *end = data + n;

	if (!c || !c->t)
		return;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t k = (size_t)(le - p);

		if (k && p[k - 1] == '\r')
			k--;
		/* a trailing line end ends the text: no empty line for it */
		if (k || nl)
			one_line(c, row, dir, p, k);
		p = nl ? nl + 1 : end;
	}
}

/* Body bytes: the first HD__TRACE_BODY of an attempt, then a count. */
static void body(hd__trace_conn *c, long row, char dir, const char *data,
		 size_t size)
{
	size_t room;

	if (row != c->row) {
		c->row = row;
		c->body = c->skipped = 0;
	}
	room = c->body < HD__TRACE_BODY ? HD__TRACE_BODY - c->body : 0;
	if (size <= room) {
		hd__trace_line(c, row, dir, data, size);
		c->body += size;
		return;
	}
	if (room) {
		hd__trace_line(c, row, dir, data, room);
		c->body += room;
	}
	if (!c->skipped) {
		char note[96];
		snprintf(note, sizeof(note),
			 "(the rest of the body is not traced: the first %d "
			 "bytes are)",
			 HD__TRACE_BODY);
		hd__trace_line(c, row, '*', note, strlen(note));
	}
	c->skipped += size - room;
}

void hd__trace_curl(hd__trace_conn *c, long row, curl_infotype type,
		    const char *data, size_t size)
{
	if (!c || !c->t)
		return;
	switch (type) {
	case CURLINFO_TEXT:
		/* "reached easy.c:1229": libcurl's own bookkeeping */
		if (size < 8 || strncmp(data, "reached ", 8) != 0)
			hd__trace_line(c, row, '*', data, size);
		break;
	case CURLINFO_HEADER_IN:
		hd__trace_line(c, row, '<', data, size);
		break;
	case CURLINFO_HEADER_OUT:
		hd__trace_line(c, row, '>', data, size);
		break;
	case CURLINFO_DATA_OUT:
		body(c, row, '>', data, size);
		break;
	case CURLINFO_DATA_IN:
		body(c, row, '<', data, size);
		break;
	default: /* TLS records: nothing to read */
		break;
	}
}

hd_status hd__trace_close(hd__trace *t, hd_error *err)
{
	hd_status st = HD_OK;

	if (!t)
		return HD_OK;
	if (t->fd >= 0) {
		pthread_mutex_lock(&t->mu);
		t->closing = 1;
		pthread_cond_broadcast(&t->more);
		pthread_cond_broadcast(&t->room);
		pthread_mutex_unlock(&t->mu);
		pthread_join(t->writer, NULL);
		if (close(t->fd) != 0 && !t->failed)
			t->failed = errno;
		if (t->failed)
			st = hd_error_set(err, HD_EIO, NULL, 0, 0,
					  "the trace could not be written: %s",
					  strerror(t->failed));
	}
	for (size_t i = 0; i < t->nsecrets; i++) {
		memset(t->secrets[i], 0, strlen(t->secrets[i]));
		free(t->secrets[i]);
	}
	hd_buf_free(&t->pending);
	pthread_cond_destroy(&t->more);
	pthread_cond_destroy(&t->room);
	pthread_mutex_destroy(&t->mu);
	free(t);
	return st;
}
