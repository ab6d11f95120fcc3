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
#include "curl_abort.h"
#include "retry_after.h"
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
	/* One request, between start and finish. */
	struct curl_slist *headers;
	struct secrets secrets; /* points into the message being sent */
	char host[256];
	char dest[136];
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

/* curl error -> outcome.  Anything network-shaped is transient; a TLS
 * peer that cannot be trusted is fatal (no row can succeed); a URL curl
 * cannot use is permanent for that row.  Codes not listed are transient:
 * a retry costs little, and the attempt count bounds it. */
/* clang-format off */
static const struct curl_outcome {
	CURLcode code;
	hd_status status;
	int fatal;
	const char *what;
} curl_outcomes[] = {
	{CURLE_COULDNT_RESOLVE_HOST, HD_ETRANSIENT, 0, "cannot resolve host"},
	{CURLE_COULDNT_RESOLVE_PROXY, HD_ETRANSIENT, 0, "cannot resolve proxy"},
	{CURLE_COULDNT_CONNECT, HD_ETRANSIENT, 0, "cannot connect"},
	{CURLE_OPERATION_TIMEDOUT, HD_ETRANSIENT, 0, "timed out"},
	{CURLE_SEND_ERROR, HD_ETRANSIENT, 0, "send failed"},
	{CURLE_RECV_ERROR, HD_ETRANSIENT, 0, "receive failed"},
	{CURLE_GOT_NOTHING, HD_ETRANSIENT, 0,
	 "connection closed without a reply"},
	{CURLE_PARTIAL_FILE, HD_ETRANSIENT, 0,
	 "connection dropped mid-response"},
	{CURLE_SSL_CONNECT_ERROR, HD_ETRANSIENT, 0, "TLS handshake failed"},
	{CURLE_HTTP2, HD_ETRANSIENT, 0, "HTTP/2 error"},
	{CURLE_HTTP2_STREAM, HD_ETRANSIENT, 0, "HTTP/2 stream error"},
	{CURLE_WEIRD_SERVER_REPLY, HD_ETRANSIENT, 0, "malformed reply"},
	{CURLE_OUT_OF_MEMORY, HD_ETRANSIENT, 0, "out of memory"},
	{CURLE_PEER_FAILED_VERIFICATION, HD_EPERMANENT, 1,
	 "TLS certificate not trusted"},
	{CURLE_SSL_CACERT_BADFILE, HD_EPERMANENT, 1, "unusable CA bundle"},
	{CURLE_SSL_ISSUER_ERROR, HD_EPERMANENT, 1, "TLS issuer check failed"},
	{CURLE_SSL_CRL_BADFILE, HD_EPERMANENT, 1, "unusable CRL file"},
	{CURLE_SSL_PINNEDPUBKEYNOTMATCH, HD_EPERMANENT, 1,
	 "TLS public key does not match the pin"},
	{CURLE_SSL_CERTPROBLEM, HD_EPERMANENT, 1,
	 "unusable TLS client certificate"},
	{CURLE_URL_MALFORMAT, HD_EPERMANENT, 0, "malformed URL"},
	/* The scheme was checked before: this is a reply in an unknown
	 * HTTP version, or no HTTP at all. */
	{CURLE_UNSUPPORTED_PROTOCOL, HD_ETRANSIENT, 0, "malformed reply"},
	/* our progress callback: the run is aborting (a second SIGINT) */
	{CURLE_ABORTED_BY_CALLBACK, HD_ETRANSIENT, 0, "aborted"},
};
/* clang-format on */

/* Request headers whose values are credentials: exact names, then name
 * parts (case-insensitive). */
/* clang-format off */
static const char *const secret_names[] = {
	"authorization", "proxy-authorization", "cookie",
};
static const char *const secret_parts[] = {
	"auth", "token", "secret", "password", "api-key", "apikey",
	"api_key", "signature", "session",
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

/* Does s contain part (lower case), ignoring case? */
static int icontains(const char *s, const char *part)
{
	size_t n = strlen(part);

	for (; *s; s++) {
		size_t i = 0;
		while (i < n && s[i] &&
		       lower((unsigned char)s[i]) == (unsigned char)part[i])
			i++;
		if (i == n)
			return 1;
	}
	return 0;
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

static int is_secret_header(const char *name)
{
	for (size_t i = 0; i < sizeof(secret_names) / sizeof(*secret_names);
	     i++)
		if (ieq(name, secret_names[i]))
			return 1;
	for (size_t i = 0; i < sizeof(secret_parts) / sizeof(*secret_parts);
	     i++)
		if (icontains(name, secret_parts[i]))
			return 1;
	return 0;
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

/* Collects the credential values of rq: each secret header's whole value
 * and, after an auth scheme ("Bearer xyz"), the credential alone. */
static void collect_secrets(const hd_request *rq, struct secrets *s)
{
	s->count = 0;
	s->used = 0;
	for (size_t i = 0; i < rq->nheaders; i++) {
		const char *v = rq->headers[i].value;
		const char *sp;

		if (!rq->headers[i].name || !v ||
		    !is_secret_header(rq->headers[i].name))
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
 * Copies in[0..n) into out (size bytes) as printable ASCII, at most limit
 * characters: runs of white space become one space, other control bytes
 * and each non-ASCII sequence become '?', secrets become "[redacted]", and
 * "..." marks a cut (also when more is set: the input was cut already).
 */
static void clean_copy(char *out, size_t size, size_t limit, const char *in,
		       size_t n, int more, const struct secrets *s)
{
	size_t o = 0, i = 0;
	int cut = more;

	if (limit + 4 > size)
		limit = size - 4;
	while (i < n) {
		unsigned char ch = (unsigned char)in[i];
		size_t k;

		for (k = 0; s && k < s->count; k++)
			if (s->n[k] <= n - i &&
			    !memcmp(in + i, s->p[k], s->n[k]))
				break;
		if (s && k < s->count) {
			static const char mark[] = "[redacted]";
			if (o + sizeof(mark) - 1 > limit) {
				cut = 1;
				break;
			}
			memcpy(out + o, mark, sizeof(mark) - 1);
			o += sizeof(mark) - 1;
			i += s->n[k];
			continue;
		}
		if (o >= limit) {
			cut = 1;
			break;
		}
		i++;
		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			if (o > 0 && out[o - 1] != ' ')
				out[o++] = ' ';
		} else if (ch >= 0x80) {
			/* one '?' for a whole UTF-8 sequence */
			while (i < n && ((unsigned char)in[i] & 0xc0) == 0x80)
				i++;
			out[o++] = '?';
		} else {
			out[o++] = (char)(ch < 0x20 || ch == 0x7f ? '?' : ch);
		}
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	if (cut) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Adds a copy of p[0..n) to s (for values that live no longer than a
 * curl string). */
static void add_secret_copy(struct secrets *s, const char *p, size_t n)
{
	if (n > sizeof(s->store) - s->used)
		return;
	memcpy(s->store + s->used, p, n);
	add_secret(s, s->store + s->used, n);
	s->used += n;
}

/* Base64 (RFC 4648) of in[0..n) into out; 0 when it does not fit. */
static int base64(char *out, size_t size, const char *in, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	if ((n + 2) / 3 * 4 >= size)
		return 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)in[i + 2];
		out[o++] = abc[v >> 18 & 63];
		out[o++] = abc[v >> 12 & 63];
		out[o++] = i + 1 < n ? abc[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? abc[v & 63] : '=';
	}
	out[o] = '\0';
	return 1;
}

/*
 * Copies the host of url into host and "host:port" into dest ("" when
 * curl cannot parse it).  When
 * the URL carries a password, libcurl sends it as Basic auth: both the
 * password and that Authorization value join s.
 */
static void url_parts(const char *url, char *host, size_t size, char *dest,
		      size_t dsize, struct secrets *s)
{
	CURLU *u = curl_url();
	char *h = NULL, *user = NULL, *pw = NULL, *port = NULL;
	char pair[256], b64[360];

	host[0] = '\0';
	dest[0] = '\0';
	if (!u)
		return;
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
	add_secret_copy(s, pw, strlen(pw));
	if (curl_url_get(u, CURLUPART_USER, &user, CURLU_URLDECODE) ==
		CURLUE_OK &&
	    (size_t)snprintf(pair, sizeof(pair), "%s:%s", user, pw) <
		sizeof(pair) &&
	    base64(b64, sizeof(b64), pair, strlen(pair)))
		add_secret_copy(s, b64, strlen(b64));
out:
	curl_free(h);
	curl_free(port);
	curl_free(user);
	curl_free(pw);
	curl_url_cleanup(u);
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
	*conn = c;
	return HD_OK;
}

static void http_close(void *conn)
{
	struct http_conn *c = conn;

	if (!c)
		return;
	curl_slist_free_all(c->headers);
	curl_easy_cleanup(c->curl);
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

		if (ieq(h->name, "Content-Length"))
			continue;
		has_type |= ieq(h->name, "Content-Type");
		has_expect |= ieq(h->name, "Expect");
		has_accept |= ieq(h->name, "Accept");
		/* "Name:" would tell libcurl to remove the header;
		 * "Name;" is its spelling for an empty value. */
		snprintf(line, sizeof(line), h->value[0] ? "%s: %s" : "%s;",
			 h->name, h->value);
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

/* Sets every option for one attempt; 0 when one is refused. */
static int set_options(struct http_conn *c, const hd_request *rq,
		       struct curl_slist *headers, int forbid_reuse)
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
	SET(CURLOPT_URL, rq->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	SET(CURLOPT_MAXAGE_CONN, HTTP_MAXAGE_CONN);
	SET(CURLOPT_FORBID_REUSE, forbid_reuse ? 1L : 0L);
	SET(CURLOPT_USERAGENT, "herald/" HD_VERSION);
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, c);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, c);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, hd__curl_abort_cb);
	SET(CURLOPT_XFERINFODATA, c->cfg->abort);
	/* a reply is read for its first CAPTURE_MAX bytes at most: a small
	 * receive buffer keeps a thousand slots in a few megabytes */
	SET(CURLOPT_BUFFERSIZE, HTTP_BUFFER_BYTES);
	hd__sockets_use(h, c->cfg->sockets);
	if (cfg->timeout_ms > 0)
		SET(CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
	SET(CURLOPT_SSL_VERIFYPEER, cfg->insecure ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, cfg->insecure ? 0L : 2L);
	if (cfg->cacert)
		SET(CURLOPT_CAINFO, cfg->cacert);

	if (!strcmp(rq->method, "HEAD")) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (rq->body_len > 0 || !strcmp(rq->method, "POST")) {
		/* POSTFIELDS, not a read callback: libcurl can rewind it. */
		SET(CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
		if (strcmp(rq->method, "POST"))
			SET(CURLOPT_CUSTOMREQUEST, rq->method);
	} else if (strcmp(rq->method, "GET")) {
		SET(CURLOPT_CUSTOMREQUEST, rq->method);
	}
#undef SET
	return rc == CURLE_OK;
}

static void fail(hd_send_result *res, hd_status status, const char *what)
{
	res->status = status;
	snprintf(res->error, sizeof(res->error), "%s", what);
}

static const struct curl_outcome *find_curl_outcome(CURLcode rc)
{
	for (size_t i = 0; i < sizeof(curl_outcomes) / sizeof(*curl_outcomes);
	     i++)
		if (curl_outcomes[i].code == rc)
			return &curl_outcomes[i];
	return NULL;
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

/* Sets the handle up for one request; NULL when it is over already. */
static CURL *http_start(void *conn, const hd_message *msg, long row,
			hd_send_result *res)
{
	struct http_conn *c = conn;
	const char *bad;
	long max;

	(void)row;
	memset(res, 0, sizeof(*res));
	res->retry_after = -1;
	if (!c || !msg) {
		fail(res, HD_EPERMANENT, "no connection or no message");
		return NULL;
	}
	if ((bad = bad_request(msg))) {
		fail(res, HD_EPERMANENT, bad);
		return NULL;
	}
	collect_secrets(&msg->http, &c->secrets);
	url_parts(msg->http.url, c->host, sizeof(c->host), c->dest,
		  sizeof(c->dest), &c->secrets);
	c->body_total = msg->http.body_len;

	c->errbuf[0] = '\0';
	c->body_len = 0;
	c->body_more = 0;
	c->header_bytes = 0;
	c->reason[0] = '\0';
	c->has_retry_after = 0;
	max = c->cfg->max_per_connection;
	/* The Nth message on a connection is its last.  If libcurl opens a
	 * new connection anyway, that one just ends early. */
	c->forbid = max > 0 && c->on_conn + 1 >= max;

	curl_easy_reset(c->curl);
	if (!(c->headers = build_headers(&msg->http)) ||
	    !set_options(c, &msg->http, c->headers, c->forbid)) {
		fail(res, HD_ETRANSIENT,
		     "cannot set up the request (out of "
		     "memory)");
		curl_slist_free_all(c->headers);
		c->headers = NULL;
		return NULL;
	}
	return c->curl;
}

/* Reads the request's outcome once the transfer is done. */
static void http_finish(void *conn, CURLcode rc, hd_send_result *res)
{
	struct http_conn *c = conn;
	const struct curl_outcome *co;
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
		goto out;
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
		goto out;
	}
	co = find_curl_outcome(rc);
	res->status = co ? co->status : HD_ETRANSIENT;
	res->fatal = co ? co->fatal : 0;
	if (rc == CURLE_PEER_FAILED_VERIFICATION)
		snprintf(text, sizeof(text),
			 "TLS certificate of %s not trusted: %s", c->host,
			 detail);
	else
		snprintf(text, sizeof(text), "%s: %s",
			 co ? co->what : "transfer failed", detail);
	clean_copy(res->error, sizeof(res->error), sizeof(res->error), text,
		   strlen(text), 0, secrets);
	if (rc == CURLE_COULDNT_RESOLVE_HOST)
		res->unreachable = HD_UNREACH_RESOLVE;
	else if (rc == CURLE_COULDNT_CONNECT ||
		 (!reused && reqsize == 0 && rc == CURLE_OPERATION_TIMEDOUT))
		res->unreachable = HD_UNREACH_CONNECT;
	else if (!reused && reqsize == 0 && rc == CURLE_SSL_CONNECT_ERROR)
		res->unreachable = HD_UNREACH_TLS;
	/* A kept connection that turned out dead before any reply byte, with
	 * no body byte gone out: this message never reached the server, so
	 * a fresh connection may try again for free.  (On the keep-alive
	 * race libcurl has usually resent by itself already; then the
	 * transfer counts as a new connection and this does not apply.) */
	if (reused &&
	    (rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
	     rc == CURLE_GOT_NOTHING) &&
	    c->header_bytes == 0 && uploaded == 0)
		res->reconnect = 1;
out:
	curl_slist_free_all(c->headers);
	c->headers = NULL;
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
