/*
 * unsub_server.c — herald unsubscribe-server: the one-click unsubscribe
 * endpoint (RFC 8058) on libmicrohttpd.
 *
 *   GET  .../TOKEN   a page naming the recipient, with a confirm button (a
 *                    POST form); never unsubscribes by itself, because
 *                    link scanners and prefetchers fetch every link
 *   POST .../TOKEN   with the form field List-Unsubscribe=One-Click
 *                    (application/x-www-form-urlencoded, as the button and
 *                    mail providers send it, or multipart/form-data, which
 *                    RFC 8058 section 3.1 allows): appends the key to the
 *                    suppression list, synced, then 200
 *   anything else    400 (invalid token, wrong body), 405, 413
 *
 * The token is the last segment of the path, so a reverse proxy may mount
 * the server under any prefix.  Plain HTTP on purpose: TLS belongs to the
 * proxy in front (README, Deliverability).  A small pool of MHD threads
 * answers; each request opens, locks, appends, syncs and closes the file
 * (suppress.c), so two requests never interleave a line.  The secret is
 * read once and shared read-only.  This file prints nothing: what happens
 * goes through cfg->on_log.
 */
#include "herald.h"

#include "buf.h"
#include "escape.h"
#include "suppress.h"
#include "unsub.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BODY_MAX 4096	      /* a one-click body is 26 bytes */
#define THREADS 4	      /* MHD's pool */
#define CONNECTIONS_MAX 256   /* at once */
#define CONNECTION_TIMEOUT 15 /* seconds idle */
#define LOG_KEY_MAX 200	      /* bytes of a key in a log line */

struct server {
	const hd_unsubscribe_config *cfg;
	hd_unsub_secret *secret;
};

/* One request's state: its body so far. */
struct request {
	hd_buf body;
	int too_large;
	int one_click; /* multipart: the field was seen */
};

static void logf_(const struct server *s, int is_error, const char *fmt, ...)
    HD_PRINTF(3, 4);

static void logf_(const struct server *s, int is_error, const char *fmt, ...)
{
	char line[600];
	va_list ap;

	if (!s->cfg->on_log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	s->cfg->on_log(s->cfg->log_ctx, is_error, line);
}

/* ---- pages --------------------------------------------------------- */

static const char page_head[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, "
    "initial-scale=1\"><meta name=\"robots\" content=\"noindex\">"
    "<title>%s</title><style>body{font-family:sans-serif;max-width:34em;"
    "margin:3em auto;padding:0 1em;line-height:1.5}button{font-size:1.1em;"
    "padding:.5em 1.4em;cursor:pointer}</style></head>\n<body>\n";

/* What each answer says: status, title, text (%s: the key, escaped). */
enum page {
	P_CONFIRM,
	P_DONE,
	P_BAD_TOKEN,
	P_BAD_BODY,
	P_TOO_LARGE,
	P_METHOD,
	P_FAILED
};

static const struct {
	unsigned status;
	const char *title;
	const char *text;
} pages[] = {
    [P_CONFIRM] = {200, "Unsubscribe",
		   "<h1>Unsubscribe</h1>\n<p>Stop sending these messages to "
		   "<strong>%s</strong>?</p>\n<form method=\"post\"><input "
		   "type=\"hidden\" name=\"List-Unsubscribe\" "
		   "value=\"One-Click\"><button type=\"submit\" "
		   "id=\"confirm\">Unsubscribe</button></form>\n"},
    [P_DONE] = {200, "Unsubscribed",
		"<h1>Unsubscribed</h1>\n<p><strong>%s</strong> will get no "
		"more of these messages.</p>\n"},
    [P_BAD_TOKEN] = {400, "Invalid link",
		     "<h1>This link is not valid</h1>\n<p>It may have been "
		     "cut short by your mail program. Try the link from the "
		     "message once more, or reply to it to "
		     "unsubscribe.</p>\n%s"},
    [P_BAD_BODY] = {400, "Bad request",
		    "<h1>Bad request</h1>\n<p>A one-click unsubscribe is a "
		    "POST of List-Unsubscribe=One-Click (RFC 8058).</p>\n%s"},
    [P_TOO_LARGE] = {413, "Too large", "<h1>Request too large</h1>\n%s"},
    [P_METHOD] = {405, "Method not allowed", "<h1>Method not allowed</h1>\n%s"},
    [P_FAILED] = {500, "Not recorded",
		  "<h1>Sorry, that did not work</h1>\n<p>Your request for "
		  "<strong>%s</strong> could not be recorded. Please try "
		  "again later.</p>\n"},
};

static enum MHD_Result answer(struct MHD_Connection *conn, enum page p,
			      const char *key)
{
	hd_buf html = HD_BUF_INIT, esc = HD_BUF_INIT;
	struct MHD_Response *resp;
	enum MHD_Result rc = MHD_NO;

	if (key && hd_escape_html(&esc, key, strlen(key), NULL) != HD_OK)
		goto out;
	if (hd_buf_printf(&html, page_head, pages[p].title) != HD_OK ||
	    hd_buf_printf(&html, pages[p].text, esc.data ? esc.data : "") !=
		HD_OK ||
	    hd_buf_puts(&html, "</body></html>\n") != HD_OK)
		goto out;
	resp = MHD_create_response_from_buffer(html.len, html.data,
					       MHD_RESPMEM_MUST_COPY);
	if (!resp)
		goto out;
	MHD_add_response_header(resp, "Content-Type",
				"text/html; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Robots-Tag", "noindex");
	MHD_add_response_header(resp, "Content-Security-Policy",
				"default-src 'none'; style-src "
				"'unsafe-inline'; form-action 'self'; "
				"frame-ancestors 'none'");
	if (p == P_METHOD)
		MHD_add_response_header(resp, "Allow", "GET, HEAD, POST");
	rc = MHD_queue_response(conn, pages[p].status, resp);
	MHD_destroy_response(resp);
out:
	hd_buf_free(&html);
	hd_buf_free(&esc);
	return rc;
}

/* ---- the one-click body -------------------------------------------- */

/* application/x-www-form-urlencoded: some pair decodes to
 * List-Unsubscribe=One-Click. */
static int urlencoded_one_click(char *body)
{
	for (char *save = NULL, *pair = strtok_r(body, "&", &save); pair;
	     pair = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(pair, '=');
		if (!eq)
			continue;
		*eq = '\0';
		for (char *c = pair; *c; c++)
			if (*c == '+')
				*c = ' ';
		for (char *c = eq + 1; *c; c++)
			if (*c == '+')
				*c = ' ';
		MHD_http_unescape(pair);
		MHD_http_unescape(eq + 1);
		if (strcmp(pair, "List-Unsubscribe") == 0 &&
		    strcmp(eq + 1, "One-Click") == 0)
			return 1;
	}
	return 0;
}

static enum MHD_Result on_field(void *cls, enum MHD_ValueKind kind,
				const char *key, const char *filename,
				const char *content_type,
				const char *transfer_encoding, const char *data,
				uint64_t off, size_t size)
{
	struct request *rq = cls;

	(void)kind;
	(void)filename;
	(void)content_type;
	(void)transfer_encoding;
	if (key && strcmp(key, "List-Unsubscribe") == 0 && off == 0 &&
	    size == 9 && memcmp(data, "One-Click", 9) == 0)
		rq->one_click = 1;
	return MHD_YES;
}

/* Is the whole body the one-click request, in either encoding? */
static int body_is_one_click(struct MHD_Connection *conn, struct request *rq)
{
	const char *type = MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	char *copy;
	int yes;

	if (!rq->body.data)
		return 0;
	if (type && strncasecmp(type, "multipart/form-data", 19) == 0) {
		struct MHD_PostProcessor *pp =
		    MHD_create_post_processor(conn, 1024, on_field, rq);
		if (!pp)
			return 0;
		MHD_post_process(pp, rq->body.data, rq->body.len);
		MHD_destroy_post_processor(pp);
		return rq->one_click;
	}
	/* urlencoded, or no type at all: the body is what counts */
	copy = strndup(rq->body.data, rq->body.len);
	if (!copy)
		return 0;
	copy[strcspn(copy, "\r\n")] = '\0';
	yes = urlencoded_one_click(copy);
	free(copy);
	return yes;
}

/* ---- requests ------------------------------------------------------ */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct server *s = cls;
	struct request *rq = *con_cls;
	const char *token = strrchr(url, '/');
	char *campaign = NULL, *key = NULL;
	int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	enum MHD_Result rc;
	hd_error err;

	(void)version;
	if (!rq) { /* the headers are in; the body, if any, follows */
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		if (rq->body.len + *upload_size > BODY_MAX ||
		    hd_buf_append(&rq->body, upload, *upload_size) != HD_OK)
			rq->too_large = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	if (!post && strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return answer(conn, P_METHOD, NULL);
	if (rq->too_large)
		return answer(conn, P_TOO_LARGE, NULL);
	token = token ? token + 1 : url;
	if (hd__unsub_check(s->secret, token, strlen(token), &campaign, &key) !=
	    HD_OK)
		return answer(conn, P_BAD_TOKEN, NULL);
	if (!post) {
		rc = answer(conn, P_CONFIRM, key);
	} else if (!body_is_one_click(conn, rq)) {
		rc = answer(conn, P_BAD_BODY, NULL);
	} else if (hd__suppress_add(s->cfg->suppress_path, key, &err) !=
		   HD_OK) {
		logf_(s, 1, "%s: %s", s->cfg->suppress_path, err.msg);
		rc = answer(conn, P_FAILED, key);
	} else {
		logf_(s, 0, "unsubscribed %.*s (campaign %.100s)", LOG_KEY_MAX,
		      key, campaign);
		rc = answer(conn, P_DONE, key);
	}
	free(campaign);
	free(key);
	return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct request *rq = *con_cls;

	(void)cls;
	(void)conn;
	(void)why;
	if (!rq)
		return;
	hd_buf_free(&rq->body);
	free(rq);
	*con_cls = NULL;
}

/* ---- starting and stopping ----------------------------------------- */

/* "HOST:PORT", "[V6]:PORT" -> an address to bind. */
static hd_status parse_listen(const char *listen, char host[256],
			      struct addrinfo **out, hd_error *err)
{
	const char *colon = strrchr(listen, ':'), *h = listen, *port;
	size_t hlen;
	struct addrinfo hints;
	char *end;
	long p;

	*out = NULL;
	if (!colon)
		goto bad;
	port = colon + 1;
	hlen = (size_t)(colon - listen);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	errno = 0;
	p = strtol(port, &end, 10);
	if (!*port || *end || errno || p < 0 || p > 65535 || hlen == 0 ||
	    hlen >= 256)
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, out) != 0 || !*out)
		return hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				    "--listen %s: no such address", listen);
	return HD_OK;
bad:
	return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
			    "--listen takes HOST:PORT or [IPV6]:PORT, not "
			    "'%.200s'",
			    listen);
}

/* The file must be appendable before the first request needs it. */
static hd_status check_suppress_file(const char *path, hd_error *err)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

	if (fd < 0)
		return hd_error_set(err, HD_ECREATE, path, 0, 0,
				    "cannot open the suppression list for "
				    "appending: %s",
				    strerror(errno));
	close(fd);
	return HD_OK;
}

static void wait_for_stop(volatile sig_atomic_t *interrupt)
{
	struct timespec tick = {0, 100 * 1000 * 1000};

	/* a signal ends the sleep early; the tick is the fallback */
	while (!interrupt || !*interrupt)
		nanosleep(&tick, NULL);
}

hd_status hd_unsubscribe_serve(const hd_unsubscribe_config *cfg, hd_error *err)
{
	struct server s = {cfg, NULL};
	char host[256];
	struct addrinfo *ai = NULL;
	struct MHD_Daemon *d = NULL;
	const union MHD_DaemonInfo *info;
	sigset_t block, old;
	unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD;
	hd_status st;

	hd_error_clear(err);
	if (!cfg->listen || !cfg->secret_file || !cfg->suppress_path)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "--listen, --secret-file and --suppress "
				    "are required");
	st = hd__unsub_secret_load(cfg->secret_file, &s.secret, err);
	if (st == HD_OK)
		st = check_suppress_file(cfg->suppress_path, err);
	if (st == HD_OK)
		st = parse_listen(cfg->listen, host, &ai, err);
	if (st != HD_OK)
		goto out;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* MHD's threads inherit a mask without SIGINT/SIGTERM, so the
	 * signals reach this thread and end its sleep */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	d = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, &s, MHD_OPTION_SOCK_ADDR,
	    ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)THREADS,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS_MAX,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 << 10),
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!d) {
		st = hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				  "cannot listen on %s: %s", cfg->listen,
				  errno ? strerror(errno) : "refused");
		goto out;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	logf_(&s, 0, "listening on http://%s%s%s:%u/ (behind a TLS proxy)",
	      ai->ai_family == AF_INET6 ? "[" : "", host,
	      ai->ai_family == AF_INET6 ? "]" : "",
	      info ? (unsigned)info->port : 0);
	wait_for_stop(cfg->interrupt);
	/* closes the listening socket and the connections; a request being
	 * answered has its line synced before its answer is queued */
	MHD_stop_daemon(d);
	logf_(&s, 0, "stopped");
out:
	if (ai)
		freeaddrinfo(ai);
	hd__unsub_secret_free(s.secret);
	return st;
}
