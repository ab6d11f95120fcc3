/*
 * transport_smtp.c — email over SMTP, through libcurl.
 *
 * One curl easy handle per worker, made on the worker's thread and kept for
 * all its messages, so one SMTP session (connect, EHLO, STARTTLS, AUTH) is
 * reused from one message to the next: a message on a live connection
 * costs MAIL, RCPT, DATA and nothing more.
 *
 * TLS policy (decided in check(), applied in open()):
 *   smtps://            TLS from the first byte.
 *   smtp:// + user      STARTTLS required (CURLUSESSL_ALL): credentials never
 *                       travel in plaintext, unless allow_plaintext_auth.
 *   smtp://, no user    STARTTLS when the server offers it (CURLUSESSL_TRY).
 *   Peers are verified unless cfg->insecure; cfg->cacert replaces the
 *   system's CA bundle.
 *
 * The server's reply text is not in any curl_easy_getinfo(): it is caught
 * in the debug callback (CURLINFO_HEADER_IN, which needs CURLOPT_VERBOSE).
 * That callback also sees the AUTH exchange, so it keeps no client line at
 * all, drops 334 challenges and 221 (QUIT) replies, and what it keeps is
 * redacted of the password in clear and in base64 before it leaves.
 *
 * What a failure means is decided by two tables below: one for SMTP reply
 * codes, one for curl error codes.
 *
 * Thread safety: a connection belongs to one worker.  The caller runs
 * curl_global_init() once before any worker starts (libcurl 7.84+ makes
 * curl_easy_init() safe without it, but then never cleans up).
 */
#include "buf.h"
#include "curl_abort.h"
#include "curl_outcome.h"
#include "encode.h"
#include "smtp_reply.h"
#include "trace.h"
#include "transport.h"

#include <stdatomic.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* libcurl closes a kept connection older than this instead of reusing it.
 * Servers drop idle sessions (Postfix after 300 s, 10 s under stress);
 * reusing one they already dropped fails the next message.  60 s is below
 * all but a stressed Postfix; the reconnect rule covers the rest. */
#define SMTP_MAXAGE_CONN_S 60L

#define SMTP_URL_MAX 2048    /* longest --smtp URL accepted */
#define SMTP_SECRET_MAX 1024 /* longest user name or password */
#define SMTP_ADDR_MAX 320    /* RFC 5321 4.5.3.1: 64 + @ + 255 */
#define SMTP_RCPT_MAX 1000   /* RFC 5321 4.5.3.1.8 asks servers for 100 */
#define SMTP_DATA_MAX (256UL * 1024 * 1024)
#define SMTP_NSECRETS 3

_Static_assert(HD__SMTP_REPLY_MAX == sizeof(((hd_send_result *)0)->response),
	       "the reply buffer is copied whole into res->response");

/* What check() learnt from the configuration. */
struct smtp_url {
	int implicit_tls; /* smtps:// */
	long use_ssl;	  /* CURLOPT_USE_SSL */
	char host[264];	  /* for messages: "TLS certificate of <host> ..." */
	char dest[136];	  /* "host:port", for messages */
};

struct smtp_conn {
	CURL *curl;
	long max_per_conn; /* cfg->max_per_connection */
	long on_conn;	   /* attempts on the connection the handle keeps;
			      0: it keeps none (or we know it closed) */
	int fresh_next;	   /* the next attempt must open a new connection */
	int forbid;	   /* this attempt closes its connection after */
	struct curl_slist *rcpt; /* this attempt's recipients */
	double timeout_s;	 /* per attempt, for messages */
	char host[264];
	char dest[136];
	char *secrets[SMTP_NSECRETS]; /* redacted from every text returned */
	const atomic_int *abort;      /* cfg->abort: a second SIGINT */
	char errbuf[CURL_ERROR_SIZE];

	/* One attempt: the upload and what the server replied. */
	const char *data;
	size_t len, pos;
	int body_started;     /* libcurl asked for body bytes */
	int body_done;	      /* libcurl took the last body byte: the final
				 "." follows at once */
	hd__smtp_reply reply; /* the last reply (smtp_reply.h) */
	/* Which reply answers what: every command libcurl sends (and the end
	 * of the data) counts one up; a reply belongs to the count it came
	 * after.  The greeting belongs to 0. */
	unsigned cmds;	    /* commands sent in this attempt */
	unsigned reply_for; /* the count the last reply answered */
	int in_txn;	    /* MAIL FROM went out: replies are the message's */
	hd__trace_conn tr;  /* --trace (off: every call a no-op) */
};

/* ---- outcome tables ------------------------------------------------- */

/* libcurl's errors are curl_outcome.c's table; these are the replies */
enum {
	F_FATAL = 1 << 0, /* stops the run: configuration is at fault */
	F_SLOW = 1 << 1,  /* the server asked the pool to slow down */
};

/* When a reply code >= 400 was the cause; first match wins.
 * RFC 5321 4.2.1: 4yz transient, 5yz permanent.  530/534/535 (RFC 4954
 * section 6) mean the credentials will fail for every row. */
static const struct reply_rule {
	long lo, hi;
	hd_status status;
	unsigned flags;
	const char *what;
} reply_rules[] = {
    {530, 530, HD_EPERMANENT, F_FATAL, "authentication failed"},
    {534, 535, HD_EPERMANENT, F_FATAL, "authentication failed"},
    {421, 421, HD_ETRANSIENT, F_SLOW, "server is closing the connection"},
    {400, 499, HD_ETRANSIENT, 0, "temporarily refused"},
    {500, 599, HD_EPERMANENT, 0, "refused"},
};

static const struct reply_rule *find_reply_rule(long code)
{
	for (size_t i = 0; i < sizeof(reply_rules) / sizeof(reply_rules[0]);
	     i++)
		if (code >= reply_rules[i].lo && code <= reply_rules[i].hi)
			return &reply_rules[i];
	return NULL;
}

/* ---- configuration -------------------------------------------------- */

/* Parses cfg->url and decides the TLS policy.  Never echoes the URL: it
 * might hold a password. */
static hd_status parse_config(const hd_transport_config *cfg,
			      struct smtp_url *u, hd_error *err)
{
	static const CURLUPart forbidden[] = {
	    CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS};
	hd_status st = HD_ECONFIG;
	CURLU *h = NULL;
	CURLUcode uc;
	char *scheme = NULL, *host = NULL, *path = NULL, *part = NULL;

	memset(u, 0, sizeof(*u));
	if (!cfg->url || !cfg->url[0]) {
		hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
			     "no SMTP server given (smtp://host[:port] or "
			     "smtps://host[:port])");
		goto out;
	}
	if (strlen(cfg->url) > SMTP_URL_MAX) {
		hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
			     "SMTP URL longer than %d bytes", SMTP_URL_MAX);
		goto out;
	}
	h = curl_url();
	if (!h) {
		st = hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
		goto out;
	}
	uc = curl_url_set(h, CURLUPART_URL, cfg->url, CURLU_NON_SUPPORT_SCHEME);
	if (uc == CURLUE_OK)
		uc = curl_url_get(h, CURLUPART_SCHEME, &scheme, 0);
	if (uc != CURLUE_OK) {
		hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
			     "bad SMTP URL (expected smtp://host[:port] or "
			     "smtps://host[:port]): %s",
			     curl_url_strerror(uc));
		goto out;
	}
	if (strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0) {
		hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
			     "SMTP URL scheme must be smtp:// or smtps://, "
			     "not %.20s://",
			     scheme);
		goto out;
	}
	u->implicit_tls = strcmp(scheme, "smtps") == 0;
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		if (curl_url_get(h, forbidden[i], &part, 0) == CURLUE_OK) {
			hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				     "the SMTP URL holds a user name or "
				     "password; credentials never go in URLs: "
				     "use --smtp-user and HERALD_SMTP_PASSWORD "
				     "or --smtp-password-file");
			goto out;
		}
	}
	if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    !host[0]) {
		hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
			     "the SMTP URL has no host");
		goto out;
	}
	if (strlen(host) >= sizeof(u->host)) {
		hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
			     "the SMTP URL's host name is too long");
		goto out;
	}
	strcpy(u->host, host);
	if (curl_url_get(h, CURLUPART_PORT, &part, CURLU_DEFAULT_PORT) ==
	    CURLUE_OK) {
		snprintf(u->dest, sizeof(u->dest), "%.120s:%.8s", host, part);
		curl_free(part);
		part = NULL;
	}
	if (curl_url_get(h, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
	    curl_url_get(h, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK) {
		hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
			     "the SMTP URL may not have a query or fragment");
		goto out;
	}
	/* libcurl would take a path as the EHLO name, which is never what
	 * a path in a mail server's URL is meant to be */
	if (curl_url_get(h, CURLUPART_PATH, &path, 0) == CURLUE_OK && path[0] &&
	    strcmp(path, "/") != 0) {
		hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
			     "the SMTP URL may not have a path: "
			     "smtp://host[:port] or smtps://host[:port]");
		goto out;
	}

	if (cfg->user && cfg->user[0]) {
		if (!cfg->password || !cfg->password[0]) {
			hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				     "no password: set HERALD_SMTP_PASSWORD or "
				     "--smtp-password-file");
			goto out;
		}
		if (strlen(cfg->user) > SMTP_SECRET_MAX ||
		    strlen(cfg->password) > SMTP_SECRET_MAX) {
			hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				     "SMTP user name or password longer than "
				     "%d bytes",
				     SMTP_SECRET_MAX);
			goto out;
		}
		u->use_ssl =
		    cfg->allow_plaintext_auth ? CURLUSESSL_TRY : CURLUSESSL_ALL;
	} else if (cfg->password && cfg->password[0]) {
		hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
			     "an SMTP password is set but no user "
			     "(--smtp-user or HERALD_SMTP_USER)");
		goto out;
	} else {
		u->use_ssl = CURLUSESSL_TRY;
	}
	if (u->implicit_tls)
		u->use_ssl = CURLUSESSL_ALL;
	if (cfg->cacert && access(cfg->cacert, R_OK) != 0) {
		hd_error_set(err, HD_ECONFIG, cfg->cacert, 0, 0,
			     "cannot read the CA certificate file");
		goto out;
	}
	st = HD_OK;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(path);
	curl_free(part);
	curl_url_cleanup(h);
	return st;
}

static hd_status smtp_check(const hd_transport_config *cfg, hd_error *err)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
	struct smtp_url u;
	hd_status st = parse_config(cfg, &u, err);
	const char *want = u.implicit_tls ? "smtps" : "smtp";
	int found = 0;

	if (st != HD_OK)
		return st;
	for (const char *const *p = v->protocols; p && *p; p++)
		found |= strcmp(*p, want) == 0;
	if (!found)
		return hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				    "this libcurl cannot speak %s", want);
	if (!(v->features & CURL_VERSION_SSL))
		return hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				    "this libcurl has no TLS support");
	return HD_OK;
}

/* ---- redaction ------------------------------------------------------ */

/* Base64 of p[0..n), a NUL-terminated string to free; NULL when out of
 * memory. */
static char *base64(const char *p, size_t n)
{
	hd_buf b = HD_BUF_INIT;

	if (hd_base64_encode(&b, p, n, 0) != HD_OK || !b.data) {
		hd_buf_free(&b);
		return NULL;
	}
	return hd_buf_detach(&b, NULL);
}

/* Overwrites a secret before free(), so it does not linger in the heap. */
static void wipe_free(char *s)
{
	if (!s)
		return;
	for (volatile char *p = s; *p; p++)
		*p = '\0';
	free(s);
}

/* The forms in which the password could come back: in clear, base64 (AUTH
 * LOGIN) and the base64 AUTH PLAIN blob "\0user\0password" (RFC 4616). */
static int make_secrets(struct smtp_conn *c, const char *user,
			const char *password)
{
	size_t ul = strlen(user), pl = strlen(password);
	char *blob = malloc(ul + pl + 2);

	if (!blob)
		return -1;
	blob[0] = '\0';
	memcpy(blob + 1, user, ul);
	blob[ul + 1] = '\0';
	memcpy(blob + ul + 2, password, pl);
	c->secrets[0] = strdup(password);
	c->secrets[1] = base64(password, pl);
	c->secrets[2] = base64(blob, ul + pl + 2);
	for (size_t i = 0; i < ul + pl + 2; i++)
		((volatile char *)blob)[i] = '\0';
	free(blob);
	return c->secrets[0] && c->secrets[1] && c->secrets[2] ? 0 : -1;
}

/* ---- libcurl callbacks ---------------------------------------------- */

static size_t read_cb(char *out, size_t size, size_t nitems, void *userp)
{
	struct smtp_conn *c = userp;
	size_t n = c->len - c->pos;

	c->body_started = 1;
	if (n > size * nitems)
		n = size * nitems;
	memcpy(out, c->data + c->pos, n);
	c->pos += n;
	if (c->pos == c->len && !c->body_done) {
		/* libcurl writes the final "." as soon as it has this: from
		 * here on the message may be delivered, and the next reply
		 * is the verdict on it */
		c->body_done = 1;
		c->cmds++;
	}
	return n;
}

static int seek_cb(void *userp, curl_off_t offset, int origin)
{
	struct smtp_conn *c = userp;

	if (origin != SEEK_SET || offset < 0 || (size_t)offset > c->len)
		return CURL_SEEKFUNC_CANTSEEK;
	c->pos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* Keeps the text of the server's last reply (smtp_reply.h).  Client
 * lines, which include the AUTH credentials, are never looked at. */
static int debug_cb(CURL *curl, curl_infotype type, char *p, size_t n,
		    void *userp)
{
	struct smtp_conn *c = userp;

	(void)curl;
	hd__trace_curl(&c->tr, c->tr.row, type, p, n);
	if (type == CURLINFO_HEADER_OUT) {
		/* A command: only its verb is looked at (AUTH lines carry
		 * credentials).  QUIT is not the message's: its 221 is
		 * dropped by the reply parser. */
		if (n >= 4 && strncasecmp(p, "QUIT", 4) == 0)
			return 0;
		c->cmds++;
		if (n >= 10 && strncasecmp(p, "MAIL FROM:", 10) == 0)
			c->in_txn = 1;
		return 0;
	}
	if (type == CURLINFO_HEADER_IN) {
		unsigned before = c->reply.count;
		hd__smtp_reply_line(&c->reply, p, n);
		if (c->reply.count != before)
			c->reply_for = c->cmds;
	}
	return 0;
}

/* ---- open / send / close -------------------------------------------- */

/*
 * Cuts the connection the last transfer left in libcurl's cache, if any.
 * libcurl keeps a session whose reply to the final "." timed out (the
 * wait happens in its done phase, which does not close), and the next
 * use of the handle then sends QUIT on it and waits for a reply the
 * server is not going to give: 120 s by libcurl's clock, charged to the
 * next row.  A cut socket is seen dead at once and dropped.
 */
static void cut_kept(struct smtp_conn *c)
{
	curl_socket_t sock = CURL_SOCKET_BAD;

	if (curl_easy_getinfo(c->curl, CURLINFO_ACTIVESOCKET, &sock) ==
		CURLE_OK &&
	    sock != CURL_SOCKET_BAD)
		shutdown(sock, SHUT_RDWR);
}

static void smtp_close(void *conn)
{
	struct smtp_conn *c = conn;

	if (!c)
		return;
	/* aborting: a server that sits on its reply would hold QUIT for as
	 * long; cut the kept connection so cleanup is quick */
	if (c->curl && c->abort && atomic_load(c->abort))
		cut_kept(c);
	curl_slist_free_all(c->rcpt);
	if (c->curl)
		curl_easy_cleanup(c->curl); /* sends QUIT on a kept session */
	for (int i = 0; i < SMTP_NSECRETS; i++)
		wipe_free(c->secrets[i]);
	free(c);
}

static hd_status smtp_open(const hd_transport_config *cfg, unsigned worker,
			   void **conn, hd_error *err)
{
	struct smtp_conn *c = NULL;
	struct smtp_url u;
	hd_status st;
	CURLcode cc = CURLE_OK;
	CURL *h;

	(void)worker;
	*conn = NULL;
	st = parse_config(cfg, &u, err);
	if (st != HD_OK)
		return st;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->curl = curl_easy_init()))
		goto nomem;
	h = c->curl;
	c->abort = cfg->abort;
	hd__trace_conn_init(&c->tr, cfg->trace, hd__trace_next_id(cfg->trace));
	c->max_per_conn =
	    cfg->max_per_connection > 0 ? cfg->max_per_connection : 0;
	memcpy(c->host, u.host, sizeof(c->host));
	memcpy(c->dest, u.dest, sizeof(c->dest));
	c->timeout_s = (double)cfg->timeout_ms / 1000.0;
	if (cfg->user && cfg->user[0] &&
	    make_secrets(c, cfg->user, cfg->password) != 0)
		goto nomem;

#define SET(opt, val)                                                          \
	do {                                                                   \
		if (cc == CURLE_OK)                                            \
			cc = curl_easy_setopt(h, opt, val);                    \
	} while (0)
	SET(CURLOPT_URL, cfg->url);
	SET(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, c->errbuf);
	SET(CURLOPT_VERBOSE, 1L); /* for the debug callback only */
	SET(CURLOPT_DEBUGFUNCTION, debug_cb);
	SET(CURLOPT_DEBUGDATA, c);
	SET(CURLOPT_UPLOAD, 1L);
	SET(CURLOPT_READFUNCTION, read_cb);
	SET(CURLOPT_READDATA, c);
	SET(CURLOPT_SEEKFUNCTION, seek_cb);
	SET(CURLOPT_SEEKDATA, c);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, hd__curl_abort_cb);
	SET(CURLOPT_XFERINFODATA, cfg->abort);
	/* libcurl's defaults are 16 KiB to receive (replies are lines) and
	 * 64 KiB to send, per handle: at -c 1000 that was 80 MB */
	SET(CURLOPT_BUFFERSIZE, 4096L);
	SET(CURLOPT_UPLOAD_BUFFERSIZE, 16384L); /* the least it takes */
	hd__sockets_use(h, cfg->sockets);
	SET(CURLOPT_MAXCONNECTS, 1L);
	SET(CURLOPT_MAXAGE_CONN, SMTP_MAXAGE_CONN_S);
	SET(CURLOPT_USE_SSL, u.use_ssl);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_SSL_VERIFYPEER, cfg->insecure ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, cfg->insecure ? 0L : 2L);
	if (cfg->cacert)
		SET(CURLOPT_CAINFO, cfg->cacert);
	if (cfg->timeout_ms > 0) {
		SET(CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
		SET(CURLOPT_CONNECTTIMEOUT_MS, cfg->timeout_ms);
		/* the wait for any one reply, QUIT's included (which no
		 * transfer's time limit covers): --timeout, not libcurl's
		 * 120 s */
		SET(CURLOPT_SERVER_RESPONSE_TIMEOUT,
		    (cfg->timeout_ms + 999) / 1000);
	}
	if (cfg->user && cfg->user[0]) {
		SET(CURLOPT_USERNAME, cfg->user);
		SET(CURLOPT_PASSWORD, cfg->password);
	}
#undef SET
	if (cc != CURLE_OK) {
		smtp_close(c);
		return hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				    "libcurl refused an SMTP option: %s",
				    curl_easy_strerror(cc));
	}
	*conn = c;
	return HD_OK;
nomem:
	smtp_close(c);
	return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
}

/* An envelope address goes into MAIL FROM:<...> / RCPT TO:<...> as is:
 * a space, '<', '>' or control byte could end the path or inject a
 * command.  Bytes >= 0x80 are allowed (SMTPUTF8). */
static int envelope_addr_ok(const char *a)
{
	size_t n = 0;

	for (; a[n]; n++) {
		unsigned char ch = (unsigned char)a[n];
		if (ch <= 0x20 || ch == 0x7f || ch == '<' || ch == '>')
			return 0;
	}
	return n <= SMTP_ADDR_MAX;
}

/* snprintf into a result field, where cutting a long text short is the
 * intended outcome. */
static void textf(char *dst, size_t size, const char *fmt, ...) HD_PRINTF(3, 4);
static void textf(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
}

/* A message this transport cannot send, whatever the server: permanent. */
static void fail_input(hd_send_result *res, const char *fmt, ...)
    HD_PRINTF(2, 3);
static void fail_input(hd_send_result *res, const char *fmt, ...)
{
	va_list ap;

	res->status = HD_EPERMANENT;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
}

/* Checks msg before anything is sent; 0 when fine. */
static int check_message(const hd_message *msg, hd_send_result *res)
{
	const hd_email *e = &msg->email;

	if (msg->kind != HD_MSG_EMAIL || !e->from || !e->data) {
		fail_input(res, "not an email message (kind %d)",
			   (int)msg->kind);
		return -1;
	}
	if (e->from[0] && !envelope_addr_ok(e->from)) {
		fail_input(res, "envelope sender not usable in MAIL FROM");
		return -1;
	}
	if (e->nrcpt == 0 || !e->rcpt) {
		fail_input(res, "no envelope recipient");
		return -1;
	}
	if (e->nrcpt > SMTP_RCPT_MAX) {
		fail_input(res, "more than %d envelope recipients",
			   SMTP_RCPT_MAX);
		return -1;
	}
	for (size_t i = 0; i < e->nrcpt; i++) {
		if (!e->rcpt[i] || !e->rcpt[i][0] ||
		    !envelope_addr_ok(e->rcpt[i])) {
			fail_input(res,
				   "envelope recipient %zu not usable in "
				   "RCPT TO",
				   i + 1);
			return -1;
		}
	}
	if (e->len > SMTP_DATA_MAX) {
		fail_input(res, "message larger than %lu bytes", SMTP_DATA_MAX);
		return -1;
	}
	return 0;
}

/* Fills res from the outcome of one curl_easy_perform. */
static void classify(struct smtp_conn *c, CURLcode cc, long code,
		     hd_send_result *res)
{
	const hd__curl_rule *cr = hd__curl_rule_of(cc);
	const struct reply_rule *rr = NULL;
	const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);

	if (code >= 400 && (cr->flags & HD__CURL_BY_REPLY))
		rr = find_reply_rule(code);
	if (rr) {
		res->status = rr->status;
		res->fatal = (rr->flags & F_FATAL) != 0;
		res->slow_down = (rr->flags & F_SLOW) != 0;
		/* RFC 3463: class 4, subject 7 (security or policy) is
		 * how providers say "too fast". */
		if (code / 100 == 4 && strncmp(c->reply.text, "4.7.", 4) == 0)
			res->slow_down = 1;
		textf(res->error, sizeof(res->error), "%s: %ld %s (%s)",
		      rr->what, code, c->reply.text, detail);
	} else if (cr->flags & HD__CURL_TLS_PEER) {
		res->status = cr->status;
		res->fatal = 1;
		textf(res->error, sizeof(res->error),
		      "TLS certificate of %s not trusted: %s", c->host, detail);
	} else {
		res->status = cr->status;
		res->fatal = (cr->flags & HD__CURL_FATAL) != 0;
		if (cc == CURLE_USE_SSL_FAILED)
			textf(res->error, sizeof(res->error), "%s", cr->what);
		else if (cr->what)
			textf(res->error, sizeof(res->error), "%s: %s",
			      cr->what, detail);
		else
			textf(res->error, sizeof(res->error), "%s", detail);
	}
}

/* The message had left and its verdict never came: it may have been
 * delivered, so it must not be sent again blindly. */
static void not_answered(struct smtp_conn *c, CURLcode cc, hd_send_result *res)
{
	const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);

	res->status = HD_ETRANSIENT;
	res->uncertain = 1;
	if (cc == CURLE_OPERATION_TIMEDOUT && c->timeout_s > 0)
		textf(res->error, sizeof(res->error),
		      "sent, no reply within %g s", c->timeout_s);
	else if (cc == CURLE_ABORTED_BY_CALLBACK)
		textf(res->error, sizeof(res->error),
		      "sent, the run was interrupted before the reply");
	else
		textf(res->error, sizeof(res->error),
		      "sent, the connection was lost before the reply (%s)",
		      detail);
	hd__smtp_redact(res->error, c->secrets, SMTP_NSECRETS);
}

/* Sets the handle up for one attempt; NULL when it is over already. */
static CURL *smtp_start(void *conn, const hd_message *msg, long row,
			hd_send_result *res)
{
	struct smtp_conn *c = conn;
	struct curl_slist *rcpt = NULL, *tmp;
	int fresh;

	memset(res, 0, sizeof(*res));
	res->retry_after = -1;
	if (!c || !msg) {
		fail_input(res, "no connection or message");
		return NULL;
	}
	if (check_message(msg, res) != 0)
		return NULL;
	for (size_t i = 0; i < msg->email.nrcpt; i++) {
		tmp = curl_slist_append(rcpt, msg->email.rcpt[i]);
		if (!tmp) {
			curl_slist_free_all(rcpt);
			res->status = HD_ETRANSIENT;
			textf(res->error, sizeof(res->error), "%s",
			      hd_strerror(HD_ENOMEM));
			return NULL;
		}
		rcpt = tmp;
	}
	c->rcpt = rcpt;

	c->data = msg->email.data;
	c->len = msg->email.len;
	c->pos = 0;
	c->body_started = 0;
	hd__smtp_reply_clear(&c->reply);
	c->body_done = 0;
	c->cmds = 0;
	c->reply_for = 0;
	c->in_txn = 0;
	c->errbuf[0] = '\0';
	hd__trace_attempt(&c->tr, row);
	/* The Nth attempt on a connection closes it afterwards (QUIT), so
	 * the next one opens a fresh connection. */
	c->forbid = c->max_per_conn > 0 && c->on_conn + 1 >= c->max_per_conn;
	fresh = c->fresh_next;
	curl_easy_setopt(c->curl, CURLOPT_MAIL_FROM, msg->email.from);
	curl_easy_setopt(c->curl, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(c->curl, CURLOPT_INFILESIZE_LARGE,
			 (curl_off_t)msg->email.len);
	curl_easy_setopt(c->curl, CURLOPT_FORBID_REUSE, (long)c->forbid);
	curl_easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, (long)fresh);
	return c->curl;
}

/* Reads the attempt's outcome once the transfer is done. */
static void smtp_finish(void *conn, CURLcode cc, hd_send_result *res)
{
	struct smtp_conn *c = conn;
	long code = 0, nconnects = 0;
	int forbid = c->forbid, reused, answered;

	curl_easy_getinfo(c->curl, CURLINFO_NUM_CONNECTS, &nconnects);
	curl_easy_setopt(c->curl, CURLOPT_MAIL_RCPT, NULL);
	curl_easy_setopt(c->curl, CURLOPT_FORBID_REUSE, 0L);
	curl_easy_setopt(c->curl, CURLOPT_FRESH_CONNECT, 0L);
	curl_slist_free_all(c->rcpt);
	c->rcpt = NULL;
	c->data = NULL;

	reused = nconnects ==
		 0; /* a kept connection (ours, or the multi handle's) */
	c->on_conn = nconnects > 0 ? 1 : c->on_conn + 1;
	c->fresh_next = 0;
	snprintf(res->dest, sizeof(res->dest), "%s", c->dest);
	/* Did the last thing sent (a command, or the message's final ".")
	 * get its reply?  Only that reply, and only when it belongs to this
	 * message or refuses the session, is this row's. */
	answered = c->reply.count > 0 && c->reply_for == c->cmds;
	if (answered && (c->in_txn || c->reply.code >= 400)) {
		res->code = c->reply.code;
		memcpy(res->response, c->reply.text, c->reply.len + 1);
		hd__smtp_redact(res->response, c->secrets, SMTP_NSECRETS);
	}
	code = res->code;

	if (cc == CURLE_OK ||
	    (c->body_done && answered && c->reply.code / 100 == 2)) {
		/* accepted; an abort or a lost QUIT after the verdict does
		 * not undo it */
		res->status = HD_OK;
	} else if (c->body_done && !answered) {
		not_answered(c, cc, res);
	} else {
		hd__curl_attempt a = {cc, reused, c->reply.count > 0, c->in_txn,
				      c->body_started};
		classify(c, cc, code, res);
		res->unreachable = hd__curl_unreachable(&a);
		/* A kept session that the server had already closed fails
		 * before the message: safe to retry at once on a new
		 * connection (the rule both transports share); so is a 421
		 * on it before the body, the server closing by its words. */
		if (hd__curl_reconnect(&a) ||
		    (reused && !c->body_started && code == 421))
			res->reconnect = 1;
		hd__smtp_redact(res->error, c->secrets, SMTP_NSECRETS);
	}
	if (res->status != HD_OK &&
	    (res->reconnect || code == 421 || !answered)) {
		c->fresh_next = 1;
		c->on_conn = 0;
	}
	/* the last command went unanswered: the session is out of step */
	if (res->status != HD_OK && !answered)
		cut_kept(c);
	if (forbid)
		c->on_conn = 0;
}

static void smtp_send(void *conn, const hd_message *msg, long row,
		      hd_send_result *res)
{
	CURL *h = smtp_start(conn, msg, row, res);

	if (h)
		smtp_finish(conn, curl_easy_perform(h), res);
}

const hd_transport hd_transport_smtp = {
    .name = "smtp",
    .check = smtp_check,
    .open = smtp_open,
    .send = smtp_send,
    .close = smtp_close,
    .start = smtp_start,
    .finish = smtp_finish,
};
