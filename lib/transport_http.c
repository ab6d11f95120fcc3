/*
 * transport_http.c — the HTTP transport: one request per message, on libcurl.
 *
 * Each worker owns one curl easy handle, made by open() on the worker's
 * own thread and kept across messages, so the keep-alive connection inside
 * it is reused from one message to the next.  send() calls
 * curl_easy_reset() first and sets every option again: reset keeps the live
 * connection but clears libcurl 7.88.1's silent-retry counter, which is
 * never reset between transfers otherwise (after five silent retries over a
 * handle's life the sixth transfer would fail; see NOTES-libcurl.md).
 *
 * What goes on the wire is the request as built from the template: its
 * method, URL, headers in template order and exactly as given, and its
 * body.  libcurl adds Host, Content-Length and "User-Agent: herald/VERSION"
 * (a template's own Host or User-Agent wins) and nothing else: its default
 * Accept header, the form Content-Type it puts on every POST and its
 * "Expect: 100-continue" are switched off unless the template gives them.
 * A template's Content-Length is dropped: the length is always the body's,
 * since a wrong one would desynchronise the kept connection.  Redirects are
 * not followed (a 3xx is a permanent failure: the template should name the
 * final URL).  Only http:// and https:// are allowed.
 *
 * The body is handed over with CURLOPT_POSTFIELDS, so libcurl can rewind
 * it when it silently resends a request after the keep-alive race; the
 * Idempotency-Key the message builder adds makes that resend harmless.
 *
 * What happened is decided by two tables below: HTTP status -> outcome and
 * curl error -> outcome.  Texts that reach the report (response, error)
 * are printable ASCII, bounded, and never contain the value of a
 * credential-bearing request header (Authorization, Cookie, *token*, ...)
 * or the URL's password, even when a server echoes them back.
 */
#include "buf.h"
#include "curl_abort.h"
#include "curl_outcome.h"
#include "encode.h"
#include "redact.h"
#include "retry_after.h"
#include "trace.h"
#include "transport.h"

#include <curl/curl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * Seconds a kept connection may sit idle and still be reused.  Servers
 * close idle connections after their keep-alive timeout: 5 s for Apache
 * httpd and Node.js by default, 60 s for AWS load balancers, 75 s for
 * nginx.  Staying under the shortest common one means a connection is
 * retired by us, not closed under us while a request is on its way.
 */
#define HTTP_MAXAGE_CONN 4L

/* libcurl's receive buffer per handle (its default is 16 KiB). */
#define HTTP_BUFFER_BYTES 4096L

/* clang-format off */
#define SNIPPET_MAX 200     /* printable characters of body in response */
#define CAPTURE_MAX 1024    /* body bytes kept to make that snippet */
#define CLEAN_MAX 1024      /* bytes of wire text made printable at once */
#define REASON_MAX 64       /* reason phrase of the status line */
#define RETRY_AFTER_RAW 64  /* Retry-After value as received */
#define MAX_HEADERS 100     /* request headers per message */
#define MAX_HEADER_LINE 8192
#define MAX_METHOD 32
#define MAX_SECRETS 16
/* clang-format on */

/* Values that must never show in a result text: pointers into the
 * request, or into store for values derived from it. */
struct secrets {
	const char *p[MAX_SECRETS];
	size_t n[MAX_SECRETS];
	size_t count;
	char store[1024];
	size_t used;
};

struct http_conn {
	CURL *curl;
	/* The header list libcurl has, kept from request to request while
	 * the headers stay the same (most lists send every row the same
	 * ones): sig is each name and value, NUL-terminated, in order;
	 * secret[i] says header i holds a credential. */
	struct curl_slist *headers;
	char *sig;
	size_t sig_len, sig_cap;
	unsigned char secret[MAX_HEADERS];
	/* the handle has every option of a request of this method and
	 * shape (0: none yet), forbid_set as FORBID_REUSE; a request that
	 * differs in any of them resets the handle and sets them all */
	char method_set[MAX_METHOD + 1];
	int shape_set, forbid_set;
	struct secrets secrets; /* points into the message being sent */
	char host[256];
	char dest[136];
	/* the URL host and dest were taken from, when it has no password:
	 * the next request to it skips parsing it again (most lists send
	 * every row to one URL) */
	char *parsed_url;
	size_t body_total;
	int forbid;
	const hd_transport_config *cfg; /* borrowed; outlives the worker */
	long on_conn; /* messages sent over the current connection */
	/* Filled during one transfer, cleared by send(). */
	char errbuf[CURL_ERROR_SIZE];
	char body[CAPTURE_MAX];
	size_t body_len;
	int body_more; /* the body had more than CAPTURE_MAX bytes */
	size_t header_bytes;
	char reason[REASON_MAX];
	char retry_after[RETRY_AFTER_RAW];
	int has_retry_after;
	hd__trace_conn tr; /* --trace (off: every call a no-op) */
};

/* ---- outcome tables ---------------------------------------------------- */

/* HTTP status -> outcome; the first matching range wins.  401 and 407
 * say the credentials were refused: the run stops (exit 78), as for a
 * refused SMTP AUTH, rather than try them on every row.  403 is
 * permanent, not fatal: a per-recipient URL may legitimately refuse one
 * recipient while the others go through. */
/* clang-format off */
static const struct http_outcome {
	long lo, hi;
	hd_status status;
	int fatal; /* the credentials every row carries were refused */
} http_outcomes[] = {
	{200, 299, HD_OK, 0},
	{401, 401, HD_EPERMANENT, 1}, /* Unauthorized */
	{407, 407, HD_EPERMANENT, 1}, /* Proxy Authentication Required */
	{408, 408, HD_ETRANSIENT, 0}, /* Request Timeout */
	{425, 425, HD_ETRANSIENT, 0}, /* Too Early */
	{429, 429, HD_ETRANSIENT, 0}, /* Too Many Requests */
	{500, 599, HD_ETRANSIENT, 0},
	{300, 499, HD_EPERMANENT, 0},
};
/* clang-format on */

/* Reason phrases for status lines that carry none (HTTP/2). */
/* clang-format off */
static const struct reason {
	long code;
	const char *text;
} reasons[] = {
	{200, "OK"},
	{201, "Created"},
	{202, "Accepted"},
	{204, "No Content"},
	{301, "Moved Permanently"},
	{302, "Found"},
	{303, "See Other"},
	{307, "Temporary Redirect"},
	{308, "Permanent Redirect"},
	{400, "Bad Request"},
	{401, "Unauthorized"},
	{403, "Forbidden"},
	{404, "Not Found"},
	{405, "Method Not Allowed"},
	{408, "Request Timeout"},
	{409, "Conflict"},
	{410, "Gone"},
	{413, "Content Too Large"},
	{415, "Unsupported Media Type"},
	{422, "Unprocessable Content"},
	{425, "Too Early"},
	{429, "Too Many Requests"},
	{500, "Internal Server Error"},
	{502, "Bad Gateway"},
	{503, "Service Unavailable"},
	{504, "Gateway Timeout"},
};
/* clang-format on */

/* ---- small helpers ----------------------------------------------------- */

static int lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static int ieq(const char *a, const char *b)
{
	while (*a && lower((unsigned char)*a) == lower((unsigned char)*b)) {
		a++;
		b++;
	}
	return *a == *b;
}

/* Does s start with prefix (lower case), ignoring case? */
static int has_prefix(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++)
		if (lower((unsigned char)*s) != *prefix)
			return 0;
	return 1;
}

/* RFC 9110 section 5.6.2: token characters. */
static int is_token(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s; s++, n++) {
		unsigned char ch = (unsigned char)*s;
		if (n >= max || ch <= ' ' || ch >= 0x7f ||
		    strchr("\"(),/:;<=>?@[\\]{}", ch))
			return 0;
	}
	return n > 0;
}

static void add_secret(struct secrets *s, const char *p, size_t n)
{
	/* Very short values would blot out ordinary text and protect
	 * nothing worth protecting. */
	if (n >= 4 && s->count < MAX_SECRETS) {
		s->p[s->count] = p;
		s->n[s->count] = n;
		s->count++;
	}
}

/* Collects the credential values of rq: the whole value of each header
 * secret[] marks and, after an auth scheme ("Bearer xyz"), the credential
 * alone. */
static void collect_secrets(const hd_request *rq, const unsigned char *secret,
			    struct secrets *s)
{
	s->count = 0;
	s->used = 0;
	for (size_t i = 0; i < rq->nheaders; i++) {
		const char *v = rq->headers[i].value;
		const char *sp;

		if (!secret[i])
			continue;
		add_secret(s, v, strlen(v));
		sp = strchr(v, ' ');
		if (sp) {
			while (*sp == ' ')
				sp++;
			add_secret(s, sp, strlen(sp));
		}
	}
}

/*
 * Copies in[0..n) into out (size bytes) as printable text, at most limit
 * bytes: runs of white space become one space, then redact.c makes it
 * safe (s's secrets and credential fields become "***", control bytes
 * and invalid UTF-8 '?', valid UTF-8 stays), and "..." marks a cut,
 * never inside a character (also when more is set: the input was cut
 * already).  The whole text is redacted before it is cut, so a cut never
 * shows a secret's first half.
 */
static void clean_copy(char *out, size_t size, size_t limit, const char *in,
		       size_t n, int more, const struct secrets *s)
{
	char text[CLEAN_MAX + 1];
	size_t o = 0, len;
	int cut = more;

	if (n > CLEAN_MAX) {
		n = CLEAN_MAX;
		cut = 1;
	}
	for (size_t i = 0; i < n; i++) {
		char ch = in[i];
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			if (o > 0 && text[o - 1] != ' ')
				text[o++] = ' ';
		} else {
			text[o++] = ch ? ch : '?';
		}
	}
	while (o > 0 && text[o - 1] == ' ')
		o--;
	text[o] = '\0';
	hd__redact(text, s ? s->p : NULL, s ? s->count : 0);
	len = strlen(text);
	if (limit + 4 > size)
		limit = size - 4;
	if (len > limit) {
		len = limit;
		while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
			len--;
		while (len > 0 && text[len - 1] == ' ')
			len--;
		cut = 1;
	}
	memcpy(out, text, len);
	if (cut) {
		memcpy(out + len, "...", 3);
		len += 3;
	}
	out[len] = '\0';
}

/* Adds a copy of p[0..n) to s (for values that live no longer than a
 * curl string). */
static void add_secret_copy(struct secrets *s, const char *p, size_t n)
{
	if (n + 1 > sizeof(s->store) - s->used)
		return;
	memcpy(s->store + s->used, p, n);
	s->store[s->used + n] = '\0'; /* redact.c takes strings */
	add_secret(s, s->store + s->used, n);
	s->used += n + 1;
}

/*
 * Copies the host of url into host and "host:port" into dest ("" when
 * curl cannot parse it).  When
 * the URL carries a password, libcurl sends it as Basic auth: both the
 * password and that Authorization value join s, and it returns 1.
 */
static int url_parts(const char *url, char *host, size_t size, char *dest,
		     size_t dsize, struct secrets *s)
{
	CURLU *u = curl_url();
	char *h = NULL, *user = NULL, *pw = NULL, *port = NULL;
	char pair[256];
	hd_buf b64 = HD_BUF_INIT;
	int has_password = 0;

	host[0] = '\0';
	dest[0] = '\0';
	if (!u)
		return 0;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK)
		snprintf(host, size, "%s", h);
	if (h && curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
		     CURLUE_OK)
		snprintf(dest, dsize, "%.120s:%.8s", h, port);
	if (curl_url_get(u, CURLUPART_PASSWORD, &pw, CURLU_URLDECODE) !=
	    CURLUE_OK)
		goto out;
	has_password = 1;
	add_secret_copy(s, pw, strlen(pw));
	if (curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) ==
		CURLUE_OK &&
	    (size_t)snprintf(pair, sizeof(pair), "%s:%s", user, pw) <
		sizeof(pair) &&
	    hd_base64_encode(&b64, pair, strlen(pair), 0) == HD_OK)
		add_secret_copy(s, b64.data, b64.len);
	hd_buf_free(&b64);
out:
	curl_free(h);
	curl_free(port);
	curl_free(user);
	curl_free(pw);
	curl_url_cleanup(u);
	return has_password;
}

/* ---- libcurl callbacks ------------------------------------------------- */

/* Keeps the first CAPTURE_MAX body bytes and reads (discards) the rest,
 * so the connection stays usable. */
static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct http_conn *c = ud;
	size_t n = size * nmemb;
	size_t take = CAPTURE_MAX - c->body_len;

	if (take > n)
		take = n;
	memcpy(c->body + c->body_len, p, take);
	c->body_len += take;
	if (take < n)
		c->body_more = 1;
	return n;
}

/* Copies line[0..n) minus its CR LF and surrounding blanks into out,
 * NUL-terminated; returns 0 when it does not fit. */
static int copy_trimmed(char *out, size_t size, const char *line, size_t n)
{
	while (n > 0 && strchr(" \t\r\n", line[n - 1]))
		n--;
	while (n > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	if (n >= size) {
		out[0] = '\0';
		return 0;
	}
	memcpy(out, line, n);
	out[n] = '\0';
	return 1;
}

/* Called once per response header line, status line included.  Reads the
 * reason phrase and Retry-After ourselves: CURLINFO_RETRY_AFTER gives 0 for
 * both "Retry-After: 0" and no header at all. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	static const char ra[] = "retry-after:";
	struct http_conn *c = ud;
	size_t n = size * nmemb;

	c->header_bytes += n;
	if (n >= 5 && !memcmp(p, "HTTP/", 5)) {
		/* A new response (after a 1xx, or libcurl's own resend):
		 * only the last one counts. */
		const char *sp = memchr(p, ' ', n);
		c->has_retry_after = 0;
		c->reason[0] = '\0';
		if (sp) {
			const char *end = p + n;
			sp++;
			while (sp < end && *sp >= '0' && *sp <= '9')
				sp++;
			clean_copy(c->reason, sizeof(c->reason),
				   sizeof(c->reason) - 4, sp,
				   (size_t)(end - sp), 0, NULL);
		}
		return n;
	}
	if (n >= sizeof(ra) - 1) {
		size_t i;
		for (i = 0; i < sizeof(ra) - 1; i++)
			if (lower((unsigned char)p[i]) != ra[i])
				break;
		if (i == sizeof(ra) - 1) {
			c->has_retry_after = 1;
			copy_trimmed(c->retry_after, sizeof(c->retry_after),
				     p + i, n - i);
		}
	}
	return n;
}

/* ---- the transport ----------------------------------------------------- */

static hd_status http_check(const hd_transport_config *cfg, hd_error *err)
{
	if (!cfg)
		return hd_error_set(err, HD_EINVAL, NULL, 0, 0,
				    "no transport configuration");
	if (cfg->timeout_ms < 0)
		return hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				    "negative timeout: %ld ms",
				    cfg->timeout_ms);
	if (cfg->max_per_connection < 0)
		return hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				    "negative --max-per-connection: %ld",
				    cfg->max_per_connection);
	if (cfg->cacert) {
		FILE *f = cfg->cacert[0] ? fopen(cfg->cacert, "r") : NULL;
		if (!f)
			return hd_error_set(err, HD_ECONFIG, cfg->cacert, 0, 0,
					    "CA bundle is missing or "
					    "unreadable");
		fclose(f);
	}
	return HD_OK;
}

static hd_status http_open(const hd_transport_config *cfg, unsigned worker,
			   void **conn, hd_error *err)
{
	struct http_conn *c;

	(void)worker;
	*conn = NULL;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->curl = curl_easy_init())) {
		free(c);
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0,
				    "cannot create a curl handle");
	}
	c->cfg = cfg;
	hd__trace_conn_init(&c->tr, cfg->trace, hd__trace_next_id(cfg->trace));
	*conn = c;
	return HD_OK;
}

static void http_close(void *conn)
{
	struct http_conn *c = conn;

	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	free(c->sig);
	free(c->parsed_url);
	free(c);
}

/* Checks what libcurl cannot be trusted to refuse: a header line holding
 * CR or LF would inject headers.  Returns NULL or what is wrong. */
static const char *bad_request(const hd_message *msg)
{
	const hd_request *rq = &msg->http;

	if (msg->kind != HD_MSG_HTTP)
		return "not an HTTP message";
	if (!rq->url || !rq->url[0])
		return "no URL";
	if (!has_prefix(rq->url, "http://") && !has_prefix(rq->url, "https://"))
		return "URL is not http:// or https://";
	for (const char *p = rq->url; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "control character in URL";
	if (!rq->method || !is_token(rq->method, MAX_METHOD))
		return "missing or malformed method";
	if (rq->body_len > 0 && !rq->body)
		return "body length without a body";
	return NULL;
}

/* The same for the headers, checked when they change. */
static const char *bad_headers(const hd_request *rq)
{
	if (rq->nheaders > MAX_HEADERS)
		return "too many headers";
	if (rq->nheaders > 0 && !rq->headers)
		return "header count without headers";
	for (size_t i = 0; i < rq->nheaders; i++) {
		const hd_header *h = &rq->headers[i];
		if (!h->name || !is_token(h->name, 256))
			return "malformed header name";
		if (!h->value || strpbrk(h->value, "\r\n") ||
		    strlen(h->name) + strlen(h->value) + 3 > MAX_HEADER_LINE)
			return "malformed or too long header value";
	}
	return NULL;
}

/* Appends line to *list; 0 when out of memory (the list is kept). */
static int append(struct curl_slist **list, const char *line)
{
	struct curl_slist *next = curl_slist_append(*list, line);

	if (!next)
		return 0;
	*list = next;
	return 1;
}

/* Builds the header list; NULL when out of memory. */
static struct curl_slist *build_headers(const hd_request *rq)
{
	struct curl_slist *list = NULL;
	int has_type = 0, has_expect = 0, has_accept = 0;
	char line[MAX_HEADER_LINE];

	for (size_t i = 0; i < rq->nheaders; i++) {
		const hd_header *h = &rq->headers[i];
		size_t nl, vl;

		if (ieq(h->name, "Content-Length"))
			continue;
		has_type |= ieq(h->name, "Content-Type");
		has_expect |= ieq(h->name, "Expect");
		has_accept |= ieq(h->name, "Accept");
		/* "Name:" would tell libcurl to remove the header;
		 * "Name;" is its spelling for an empty value.  Written by
		 * hand (bad_headers bounds the length): snprintf showed in
		 * callgrind, a request's headers differing each time (the
		 * Idempotency-Key) */
		nl = strlen(h->name);
		vl = strlen(h->value);
		memcpy(line, h->name, nl);
		if (vl) {
			memcpy(line + nl, ": ", 2);
			memcpy(line + nl + 2, h->value, vl + 1);
		} else {
			memcpy(line + nl, ";", 2);
		}
		if (!append(&list, line))
			goto oom;
	}
	/* An empty value switches one of libcurl's defaults off. */
	if ((!has_type && !append(&list, "Content-Type:")) ||
	    (!has_expect && !append(&list, "Expect:")) ||
	    (!has_accept && !append(&list, "Accept:")))
		goto oom;
	return list;
oom:
	curl_slist_free_all(list);
	return NULL;
}

/* How a request's method and body set the handle. */
enum shape { SHAPE_HEAD = 1, SHAPE_BODY, SHAPE_NO_BODY };

static enum shape shape_of(const hd_request *rq)
{
	if (!strcmp(rq->method, "HEAD"))
		return SHAPE_HEAD;
	if (rq->body_len > 0 || !strcmp(rq->method, "POST"))
		return SHAPE_BODY;
	return SHAPE_NO_BODY;
}

/* The options that change from one request of a shape to the next. */
static CURLcode set_request(struct http_conn *c, const hd_request *rq)
{
	CURL *h = c->curl;
	CURLcode rc = curl_easy_setopt(h, CURLOPT_URL, rq->url);

	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	if (rc == CURLE_OK && shape_of(rq) == SHAPE_BODY) {
		/* POSTFIELDS, not a read callback: libcurl can rewind it. */
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS,
				      rq->body ? rq->body : "");
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
					      (curl_off_t)rq->body_len);
	}
	return rc;
}

/* Sets every option for one attempt, on a handle just reset. */
static CURLcode set_options(struct http_conn *c, const hd_request *rq,
			    int forbid_reuse)
{
	const hd_transport_config *cfg = c->cfg;
	CURL *h = c->curl;
	CURLcode rc = CURLE_OK;

#define SET(opt, val)                                                          \
	do {                                                                   \
		if (rc == CURLE_OK)                                            \
			rc = curl_easy_setopt(h, opt, val);                    \
	} while (0)
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	SET(CURLOPT_MAXAGE_CONN, HTTP_MAXAGE_CONN);
	SET(CURLOPT_FORBID_REUSE, forbid_reuse ? 1L : 0L);
	SET(CURLOPT_USERAGENT, "herald/" HD_VERSION);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, c);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, c);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, hd__curl_abort_cb);
	SET(CURLOPT_XFERINFODATA, c->cfg->abort);
	/* a reply is read for its first CAPTURE_MAX bytes at most: a small
	 * receive buffer keeps a thousand slots in a few megabytes.  libcurl
	 * 7.88 refuses a new size while the handle still holds its buffer
	 * (a handle of an HTTP/2 connection after curl_easy_reset): it then
	 * keeps the size it was given before, so the answer is not an error. */
	(void)curl_easy_setopt(h, CURLOPT_BUFFERSIZE, HTTP_BUFFER_BYTES);
	if (c->tr.t) {
		SET(CURLOPT_VERBOSE, 1L);
		SET(CURLOPT_DEBUGFUNCTION, hd__trace_debug_cb);
		SET(CURLOPT_DEBUGDATA, &c->tr);
	}
	hd__sockets_use(h, c->cfg->sockets);
	if (cfg->timeout_ms > 0)
		SET(CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
	SET(CURLOPT_SSL_VERIFYPEER, cfg->insecure ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, cfg->insecure ? 0L : 2L);
	if (cfg->cacert)
		SET(CURLOPT_CAINFO, cfg->cacert);

	if (shape_of(rq) == SHAPE_HEAD) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (shape_of(rq) == SHAPE_BODY) {
		if (strcmp(rq->method, "POST"))
			SET(CURLOPT_CUSTOMREQUEST, rq->method);
	} else if (strcmp(rq->method, "GET")) {
		SET(CURLOPT_CUSTOMREQUEST, rq->method);
	}
#undef SET
	return rc == CURLE_OK ? set_request(c, rq) : rc;
}

static void fail(hd_send_result *res, hd_status status, const char *what)
{
	res->status = status;
	snprintf(res->error, sizeof(res->error), "%s", what);
}

static const struct http_outcome *find_http_outcome(long code)
{
	/* 1xx as a final answer or beyond 599: a confused server, which
	 * may be mid-deploy. */
	static const struct http_outcome confused = {0, 0, HD_ETRANSIENT, 0};

	for (size_t i = 0; i < sizeof(http_outcomes) / sizeof(*http_outcomes);
	     i++)
		if (code >= http_outcomes[i].lo && code <= http_outcomes[i].hi)
			return &http_outcomes[i];
	return &confused;
}

static const char *reason_of(const struct http_conn *c, long code)
{
	if (c->reason[0])
		return c->reason;
	for (size_t i = 0; i < sizeof(reasons) / sizeof(*reasons); i++)
		if (reasons[i].code == code)
			return reasons[i].text;
	return "";
}

/* Are rq's headers the ones in c->headers? */
static int same_headers(const struct http_conn *c, const hd_request *rq)
{
	size_t off = 0;

	if (!c->headers)
		return 0;
	for (size_t i = 0; i < rq->nheaders; i++) {
		const hd_header *h = &rq->headers[i];
		size_t nl, vl;

		if (!h->name || !h->value)
			return 0;
		nl = strlen(h->name) + 1;
		vl = strlen(h->value) + 1;
		if (c->sig_len - off < nl + vl ||
		    memcmp(c->sig + off, h->name, nl) != 0 ||
		    memcmp(c->sig + off + nl, h->value, vl) != 0)
			return 0;
		off += nl + vl;
	}
	return off == c->sig_len;
}

/* Are rq's header names those of c->headers, in order (the values may
 * differ)?  Then which of them hold credentials is known already. */
static int same_names(const struct http_conn *c, const hd_request *rq)
{
	size_t off = 0;

	if (!c->headers)
		return 0;
	for (size_t i = 0; i < rq->nheaders; i++) {
		size_t nl = strlen(rq->headers[i].name) + 1;

		if (c->sig_len - off < nl ||
		    memcmp(c->sig + off, rq->headers[i].name, nl) != 0)
			return 0;
		off += nl;
		off += strlen(c->sig + off) + 1; /* the value */
	}
	return off == c->sig_len;
}

/* Forgets the header list and every option set: the next request
 * starts from a reset handle. */
static void forget_setup(struct http_conn *c)
{
	curl_slist_free_all(c->headers);
	c->headers = NULL;
	c->sig_len = 0;
	c->shape_set = 0;
}

/* Makes rq's headers c->headers, checked, unless they are already.
 * Returns NULL, or what is wrong with them; *oom when memory ran out. */
static const char *use_headers(struct http_conn *c, const hd_request *rq,
			       int *oom)
{
	struct curl_slist *list;
	const char *bad;
	size_t need = 0, off = 0;
	int names;

	*oom = 0;
	if (same_headers(c, rq))
		return NULL;
	if ((bad = bad_headers(rq)))
		return bad;
	names = same_names(c, rq);
	for (size_t i = 0; i < rq->nheaders; i++)
		need += strlen(rq->headers[i].name) +
			strlen(rq->headers[i].value) + 2;
	if (need > c->sig_cap) {
		char *grown = realloc(c->sig, need);
		if (!grown) {
			*oom = 1;
			return NULL;
		}
		c->sig = grown;
		c->sig_cap = need;
	}
	if (!(list = build_headers(rq))) {
		*oom = 1;
		return NULL;
	}
	/* the handle points at the old list until set_request gives it
	 * this one, and a failure on the way forgets the setup */
	curl_slist_free_all(c->headers);
	c->headers = list;
	for (size_t i = 0; i < rq->nheaders; i++) {
		const hd_header *h = &rq->headers[i];
		size_t nl = strlen(h->name) + 1, vl = strlen(h->value) + 1;

		memcpy(c->sig + off, h->name, nl);
		memcpy(c->sig + off + nl, h->value, vl);
		off += nl + vl;
		if (!names)
			c->secret[i] = (unsigned char)hd__redact_secret_header(
			    h->name, nl - 1);
	}
	c->sig_len = off;
	return NULL;
}

/* Sets the handle up for one request; NULL when it is over already. */
static CURL *http_start(void *conn, const hd_message *msg, long row,
			hd_send_result *res)
{
	struct http_conn *c = conn;
	const char *bad;
	CURLcode rc;
	long max;
	int oom, shape;

	memset(res, 0, sizeof(*res));
	res->retry_after = -1;
	if (!c || !msg) {
		fail(res, HD_EPERMANENT, "no connection or no message");
		return NULL;
	}
	if ((bad = bad_request(msg)) ||
	    (bad = use_headers(c, &msg->http, &oom))) {
		fail(res, HD_EPERMANENT, bad);
		return NULL;
	}
	if (oom) {
		fail(res, HD_ETRANSIENT,
		     "cannot set up the request: out of memory");
		return NULL;
	}
	collect_secrets(&msg->http, c->secret, &c->secrets);
	if (!c->parsed_url || strcmp(c->parsed_url, msg->http.url) != 0) {
		free(c->parsed_url);
		c->parsed_url = NULL;
		/* a password is a secret of this request: parsed each time */
		if (!url_parts(msg->http.url, c->host, sizeof(c->host), c->dest,
			       sizeof(c->dest), &c->secrets))
			c->parsed_url = strdup(msg->http.url);
	}
	c->body_total = msg->http.body_len;

	c->errbuf[0] = '\0';
	c->body_len = 0;
	c->body_more = 0;
	c->header_bytes = 0;
	c->reason[0] = '\0';
	c->has_retry_after = 0;
	hd__trace_attempt(&c->tr, row);
	max = c->cfg->max_per_connection;
	/* The Nth message on a connection is its last.  If libcurl opens a
	 * new connection anyway, that one just ends early. */
	c->forbid = max > 0 && c->on_conn + 1 >= max;

	/* A request like the one before (the same method, body or none,
	 * reuse rule) only changes the URL, the headers and the body.  Any
	 * other starts from a reset handle with every option set. */
	shape = (int)shape_of(&msg->http);
	if (c->shape_set == shape && c->forbid_set == c->forbid &&
	    !strcmp(c->method_set, msg->http.method)) {
		rc = set_request(c, &msg->http);
	} else {
		curl_easy_reset(c->curl);
		rc = set_options(c, &msg->http, c->forbid);
		if (rc == CURLE_OK) {
			/* bad_request checked its length */
			snprintf(c->method_set, sizeof(c->method_set), "%s",
				 msg->http.method);
			c->shape_set = shape;
			c->forbid_set = c->forbid;
		}
	}
	if (rc != CURLE_OK) {
		res->status = HD_ETRANSIENT;
		snprintf(res->error, sizeof(res->error),
			 "cannot set up the request: %s",
			 curl_easy_strerror(rc));
		forget_setup(c);
		return NULL;
	}
	return c->curl;
}

/* Reads the request's outcome once the transfer is done. */
static void http_finish(void *conn, CURLcode rc, hd_send_result *res)
{
	struct http_conn *c = conn;
	const hd__curl_rule *co;
	struct secrets *secrets = &c->secrets;
	char text[1024];
	const char *detail;
	long connects = 0, code = 0, reqsize = 0;
	curl_off_t uploaded = 0;
	int reused, sent_all;

	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &connects);
	curl_easy_getinfo(c->curl, CURLINFO_SIZE_UPLOAD_T, &uploaded);
	curl_easy_getinfo(c->curl, CURLINFO_REQUEST_SIZE, &reqsize);
	reused = connects == 0;
	c->on_conn = c->forbid ? 0 : reused ? c->on_conn + 1 : 1;
	/* the whole request, headers and body, was handed to the network */
	sent_all = reqsize > 0 && uploaded == (curl_off_t)c->body_total;
	snprintf(res->dest, sizeof(res->dest), "%s", c->dest);

	if (code >= 200) {
		/* The server gave its verdict: that decides, even when the
		 * transfer broke afterwards (a reply body cut short). */
		const struct http_outcome *ho = find_http_outcome(code);
		res->code = code;
		clean_copy(res->response, sizeof(res->response), SNIPPET_MAX,
			   c->body, c->body_len, c->body_more, secrets);
		if (c->has_retry_after) {
			res->retry_after =
			    hd__retry_after_parse(c->retry_after, time(NULL));
			res->slow_down = 1;
		}
		if (code == 429)
			res->slow_down = 1;
		res->status = ho->status;
		res->fatal = ho->fatal;
		if (res->status != HD_OK) {
			const char *r = reason_of(c, code);
			snprintf(text, sizeof(text), "HTTP %ld%s%s%s", code,
				 r[0] ? " " : "", r,
				 ho->fatal ? ": the credentials were refused"
					   : "");
			clean_copy(res->error, sizeof(res->error),
				   sizeof(res->error), text, strlen(text), 0,
				   secrets);
		}
		return;
	}

	detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
	/* A reply that is no HTTP at all (an SMTP greeting, garbage) is an
	 * answer, from something that is not the API. */
	if (sent_all && rc != CURLE_WEIRD_SERVER_REPLY &&
	    rc != CURLE_UNSUPPORTED_PROTOCOL) {
		/* It may have been acted on: never again blindly. */
		res->status = HD_ETRANSIENT;
		res->uncertain = 1;
		if (rc == CURLE_OPERATION_TIMEDOUT)
			snprintf(text, sizeof(text),
				 "sent, no reply within %g s",
				 (double)c->cfg->timeout_ms / 1000.0);
		else if (rc == CURLE_ABORTED_BY_CALLBACK)
			snprintf(text, sizeof(text),
				 "sent, the run was interrupted before the "
				 "reply");
		else
			snprintf(text, sizeof(text),
				 "sent, the connection was lost before the "
				 "reply (%s)",
				 detail);
		clean_copy(res->error, sizeof(res->error), sizeof(res->error),
			   text, strlen(text), 0, secrets);
		return;
	}
	co = hd__curl_rule_of(rc);
	res->status = co->status;
	res->fatal = (co->flags & HD__CURL_FATAL) != 0;
	if (co->flags & HD__CURL_TLS_PEER)
		snprintf(text, sizeof(text),
			 "TLS certificate of %s not trusted: %s", c->host,
			 detail);
	else
		snprintf(text, sizeof(text), "%s: %s",
			 co->what ? co->what : "transfer failed", detail);
	clean_copy(res->error, sizeof(res->error), sizeof(res->error), text,
		   strlen(text), 0, secrets);
	{
		/* (On the keep-alive race libcurl has usually resent by
		 * itself already; then the transfer counts as a new
		 * connection and the reconnect rule does not apply.) */
		hd__curl_attempt a = {rc, reused, c->header_bytes > 0,
				      reqsize > 0, uploaded > 0};
		res->unreachable = hd__curl_unreachable(&a);
		res->reconnect = hd__curl_reconnect(&a);
	}
}

static void http_send(void *conn, const hd_message *msg, long row,
		      hd_send_result *res)
{
	CURL *h = http_start(conn, msg, row, res);

	if (h)
		http_finish(conn, curl_easy_perform(h), res);
}

const hd_transport hd_transport_http = {
    .name = "http",
    .check = http_check,
    .open = http_open,
    .send = http_send,
    .close = http_close,
    .start = http_start,
    .finish = http_finish,
};
