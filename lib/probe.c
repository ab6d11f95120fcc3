/*
 * probe.c — herald check --connect: open the connection a send would,
 * step by step, and send nothing.
 *
 *   SMTP   dns, tcp, the greeting, EHLO, TLS (smtps:// or STARTTLS, the
 *          certificate verified), AUTH, then for each of the first
 *          PROBE_ROWS rows MAIL FROM and RCPT TO of its envelope and
 *          RSET: never DATA.  libcurl does the connection, TLS and AUTH
 *          (CURLOPT_CONNECT_ONLY); its debug callback tells how far it
 *          came.  The envelope commands are ours (curl_easy_send/recv):
 *          CURLOPT_NOBODY would send DATA and deliver the message.
 *   HTTP   dns, tcp and TLS for each distinct host of the first rows'
 *          requests (CURLOPT_CONNECT_ONLY): no request is sent.
 *
 * Each step is one HD_EVENT_STEP (error set when it failed); the first
 * failing connection step ends the probe.  What a failure returns is what
 * a send would meet it as: HD_ECONFIG (a name that does not resolve, TLS
 * not trusted or missing, credentials refused), HD_EINTERRUPTED (nothing
 * listens or answers: try again later), HD_EPERMANENT or HD_ETRANSIENT
 * (the server refused a row's sender or recipient).
 *
 * Runs on the calling thread, with a curl handle of its own that is
 * never reused.  The conversation goes to --trace when one is given.
 */
#include "herald.h"

#include "fields.h"
#include "inputs.h"
#include "message.h"
#include "smtp_reply.h"
#include "trace.h"

#include <curl/curl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define PROBE_ROWS 3 /* rows whose envelope or host is tried */
#define DEFAULT_TIMEOUT_MS 30000
#define REPLY_BUF 4096

/* What the next complete SMTP reply answers. */
enum expect { X_GREETING, X_EHLO, X_STARTTLS, X_AUTH, X_OTHER };

struct probe {
	const hd_run_config *cfg;
	hd__trace *trace;
	hd__trace_conn tc;
	long timeout_ms;
	hd_status worst; /* of the row steps */

	/* SMTP: what libcurl's debug callback saw */
	hd__smtp_reply reply;
	enum expect expect;
	char greeting[HD__SMTP_REPLY_MAX];
	long greet_code;
	char ehlo[HD__SMTP_REPLY_MAX];
	long ehlo_code;
	int starttls_sent;
	long starttls_code;
	char tls[160]; /* "TLSv1.3 / TLS_AES_256_GCM_SHA384" */
	int auth_sent;
	char auth[HD__SMTP_REPLY_MAX];
	long auth_code;
	char errbuf[CURL_ERROR_SIZE];
};

HD_PRINTF(4, 5)
static void step(struct probe *p, hd_status st, hd_error *err, const char *fmt,
		 ...)
{
	char text[900];
	hd_event ev = {HD_EVENT_STEP, NULL, text, NULL, NULL, NULL};
	hd_run_stats none;
	va_list ap;

	memset(&none, 0, sizeof(none));
	ev.stats = &none;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (st != HD_OK) {
		hd_error_set(err, st, NULL, 0, 0, "%s", text);
		ev.error = err;
	}
	hd__trace_line(&p->tc, 0, '*', text, strlen(text));
	if (p->cfg->on_event)
		p->cfg->on_event(p->cfg->event_ctx, &ev);
}

/* ---- what to try: the first rows -------------------------------------- */

struct target {
	char *from;  /* SMTP: envelope sender */
	char **rcpt; /* SMTP: envelope recipients */
	size_t nrcpt;
	char url[2048]; /* HTTP: the request's URL */
	long row;
};

static void targets_free(struct target *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].from);
		for (size_t k = 0; k < t[i].nrcpt; k++)
			free(t[i].rcpt[k]);
		free(t[i].rcpt);
	}
}

/* Builds the messages of the first PROBE_ROWS rows that build, as a send
 * would (--redirect included), and keeps their envelopes or URLs. */
static hd_status first_rows(const hd_run_config *cfg, hd_message_kind *kind,
			    struct target *out, size_t *n, hd_error *err)
{
	hd_msgtmpl_opts mo = {.env_names = cfg->env_names,
			      .n_env = cfg->n_env,
			      .redirect = cfg->redirect,
			      .mail = &cfg->mail};
	hd_msgtmpl *tmpl = NULL;
	hd_source *src = NULL;
	hd__keyspec ks;
	json_t *rec = NULL;
	int chosen = 0;
	hd_status st;

	*n = 0;
	st = hd__inputs_open(cfg, &mo, &tmpl, &src, err);
	while (st == HD_OK && *n < PROBE_ROWS &&
	       (st = hd_source_next(src, &rec, err)) == HD_OK && rec) {
		hd_message msg;
		hd_error e;
		char *key = NULL, *id = NULL;
		struct target *t = &out[*n];

		if (!chosen) {
			hd__fields_first(tmpl, src, cfg->key_field, rec, &ks);
			chosen = 1;
		}
		*kind = hd_msgtmpl_kind(tmpl);
		memset(&msg, 0, sizeof(msg));
		if (hd__key_of(&ks, tmpl, rec, hd_source_row(src), &key, &id,
			       &e) == HD_OK &&
		    hd_msgtmpl_build(
			tmpl, rec, cfg->campaign ? cfg->campaign : "check", id,
			hd_source_row(src), &msg, &e) == HD_OK) {
			memset(t, 0, sizeof(*t));
			t->row = hd_source_row(src);
			if (msg.kind == HD_MSG_EMAIL) {
				t->from = msg.email.from;
				t->rcpt = msg.email.rcpt;
				t->nrcpt = msg.email.nrcpt;
				msg.email.from = NULL;
				msg.email.rcpt = NULL;
				msg.email.nrcpt = 0;
			} else {
				snprintf(t->url, sizeof(t->url), "%s",
					 msg.http.url);
			}
			(*n)++;
		}
		hd_message_clear(&msg);
		free(key);
		free(id);
		json_decref(rec);
		rec = NULL;
	}
	json_decref(rec);
	hd_source_free(src);
	hd_msgtmpl_free(tmpl);
	if (st == HD_OK && *n == 0)
		st = hd_error_set(err, HD_EINVALIDROWS, cfg->recipients_path, 0,
				  0, "no row can be built to try");
	return st;
}

/* ---- the steps every connection has ------------------------------------ */

/* dns: host[:port] resolves; the addresses it gave. */
static hd_status step_dns(struct probe *p, const char *host, const char *port,
			  hd_error *err)
{
	struct addrinfo hints, *res = NULL, *a;
	char list[300] = "";
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		step(p, HD_ECONFIG, err, "dns: %s does not resolve: %s", host,
		     gai_strerror(rc));
		return HD_ECONFIG;
	}
	for (a = res; a; a = a->ai_next) {
		char ip[NI_MAXHOST];
		if (getnameinfo(a->ai_addr, a->ai_addrlen, ip, sizeof(ip), NULL,
				0, NI_NUMERICHOST) != 0 ||
		    strstr(list, ip))
			continue;
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", list[0] ? ", " : "", ip);
	}
	freeaddrinfo(res);
	step(p, HD_OK, err, "dns: %s is %s", host, list);
	return HD_OK;
}

/* libcurl says which TLS it speaks: "SSL connection using TLSv1.3 /
 * TLS_AES_256_GCM_SHA384". */
static void note_tls(struct probe *p, curl_infotype type, const char *data,
		     size_t size)
{
	static const char lead[] = "SSL connection using ";
	size_t k = sizeof(lead) - 1, n;

	if (type != CURLINFO_TEXT || size <= k || strncmp(data, lead, k))
		return;
	for (n = size - k;
	     n && (data[k + n - 1] == '\n' || data[k + n - 1] == '\r');)
		n--;
	snprintf(p->tls, sizeof(p->tls), "%.*s", (int)n, data + k);
}

/* What is common to both kinds of handle; debug follows the
 * conversation. */
static CURLcode common_options(struct probe *p, CURL *h, const char *url,
			       curl_debug_callback debug)
{
	const hd_run_config *cfg = p->cfg;
	CURLcode cc = CURLE_OK;

#define SET(opt, val)                                                          \
	do {                                                                   \
		if (cc == CURLE_OK)                                            \
			cc = curl_easy_setopt(h, opt, val);                    \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_CONNECT_ONLY, 1L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, p->errbuf);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_SSL_VERIFYPEER, cfg->insecure ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, cfg->insecure ? 0L : 2L);
	SET(CURLOPT_TIMEOUT_MS, p->timeout_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, p->timeout_ms);
	SET(CURLOPT_VERBOSE, 1L); /* for the debug callback only */
	SET(CURLOPT_DEBUGFUNCTION, debug);
	SET(CURLOPT_DEBUGDATA, p);
	if (cfg->cacert)
		SET(CURLOPT_CAINFO, cfg->cacert);
#undef SET
	return cc;
}

/* tcp: where it connected and how long that took. */
static void step_tcp(struct probe *p, CURL *h, hd_error *err)
{
	char *ip = NULL;
	long port = 0;
	double t = 0;

	curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip);
	curl_easy_getinfo(h, CURLINFO_PRIMARY_PORT, &port);
	curl_easy_getinfo(h, CURLINFO_CONNECT_TIME, &t);
	step(p, HD_OK, err, "tcp: connected to %s port %ld (%.0f ms)",
	     ip ? ip : "?", port, t * 1000);
}

/* Could libcurl not connect at all? */
static int no_connection(CURLcode cc)
{
	return cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST;
}

static int tls_refused(CURLcode cc)
{
	return cc == CURLE_PEER_FAILED_VERIFICATION ||
	       cc == CURLE_SSL_CONNECT_ERROR ||
	       cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM ||
	       cc == CURLE_SSL_ISSUER_ERROR;
}

/* The TLS step's failure, in words: not trusted, or no handshake. */
static void tls_failed(struct probe *p, CURLcode cc, const char *host,
		       const char *how, const char *why, hd_error *err)
{
	if (cc == CURLE_PEER_FAILED_VERIFICATION)
		step(p, HD_ECONFIG, err,
		     "tls%s: the certificate of %s is not trusted: %s "
		     "(--cacert FILE trusts another CA)",
		     how, host, why);
	else
		step(p, HD_ECONFIG, err,
		     "tls%s: no TLS handshake with %s: %s (smtps:// and "
		     "https:// speak TLS from the first byte: is it the "
		     "right port?)",
		     how, host, why);
}

/* ---- SMTP ------------------------------------------------------------- */

static void copy(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

/* A complete reply came: keep it for the command it answers. */
static void smtp_replied(struct probe *p)
{
	const char *t = p->reply.text;

	switch (p->expect) {
	case X_GREETING:
		copy(p->greeting, sizeof(p->greeting), t);
		p->greet_code = p->reply.code;
		break;
	case X_EHLO:
		/* after STARTTLS the second EHLO's offer counts */
		copy(p->ehlo, sizeof(p->ehlo), t);
		p->ehlo_code = p->reply.code;
		break;
	case X_STARTTLS:
		p->starttls_code = p->reply.code;
		break;
	case X_AUTH:
		copy(p->auth, sizeof(p->auth), t);
		p->auth_code = p->reply.code;
		break;
	default:
		break;
	}
	p->expect = X_OTHER;
}

static int smtp_debug(CURL *h, curl_infotype type, char *data, size_t size,
		      void *userp)
{
	struct probe *p = userp;
	(void)h;

	hd__trace_curl(&p->tc, 0, type, data, size);
	if (type == CURLINFO_HEADER_OUT && p->expect == X_AUTH &&
	    !p->auth_code) {
		/* the answer to a 334 challenge: AUTH goes on */
	} else if (type == CURLINFO_HEADER_OUT) {
		if (size >= 4 && (!strncasecmp(data, "EHLO", 4) ||
				  !strncasecmp(data, "HELO", 4)))
			p->expect = X_EHLO;
		else if (size >= 8 && !strncasecmp(data, "STARTTLS", 8))
			p->expect = X_STARTTLS, p->starttls_sent = 1;
		else if (size >= 4 && !strncasecmp(data, "AUTH", 4))
			p->expect = X_AUTH, p->auth_sent = 1;
		else
			p->expect = X_OTHER;
		hd__smtp_reply_clear(&p->reply);
	} else if (type == CURLINFO_HEADER_IN) {
		hd__smtp_reply_line(&p->reply, data, size);
		/* 334 is a challenge: AUTH goes on */
		if (!p->reply.open && p->reply.code && p->reply.code != 334)
			smtp_replied(p);
	} else {
		note_tls(p, type, data, size);
	}
	return 0;
}

/* Waits for the connection to be readable (or writable). */
static int wait_socket(CURL *h, int out, long ms)
{
	curl_socket_t fd = CURL_SOCKET_BAD;
	struct pollfd pfd;

	if (curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK ||
	    fd == CURL_SOCKET_BAD)
		return -1;
	pfd.fd = fd;
	pfd.events = out ? POLLOUT : POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, (int)ms) > 0 ? 0 : -1;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

/* Sends one command line and reads its whole reply into p->reply.
 * 0, or -1 when the connection failed or timed out (why: in p->errbuf). */
static int smtp_command(struct probe *p, CURL *h, const char *line)
{
	char buf[REPLY_BUF];
	size_t have = 0, sent = 0, len = strlen(line);
	double end = now_ms() + (double)p->timeout_ms;

	hd__trace_line(&p->tc, 0, '>', line, len);
	while (sent < len) {
		size_t n = 0;
		CURLcode cc = curl_easy_send(h, line + sent, len - sent, &n);
		if (cc == CURLE_AGAIN) {
			if (wait_socket(h, 1, (long)(end - now_ms())) != 0)
				goto timeout;
			continue;
		}
		if (cc != CURLE_OK) {
			copy(p->errbuf, sizeof(p->errbuf),
			     curl_easy_strerror(cc));
			return -1;
		}
		sent += n;
	}
	hd__smtp_reply_clear(&p->reply);
	for (;;) {
		size_t n = 0;
		char *nl;
		CURLcode cc =
		    curl_easy_recv(h, buf + have, sizeof(buf) - have - 1, &n);
		if (cc == CURLE_AGAIN) {
			if (wait_socket(h, 0, (long)(end - now_ms())) != 0)
				goto timeout;
			continue;
		}
		if (cc != CURLE_OK || n == 0) {
			copy(p->errbuf, sizeof(p->errbuf),
			     cc != CURLE_OK
				 ? curl_easy_strerror(cc)
				 : "the server closed the connection");
			return -1;
		}
		have += n;
		buf[have] = '\0';
		while ((nl = memchr(buf, '\n', have)) != NULL) {
			size_t k = (size_t)(nl - buf) + 1;
			hd__trace_line(&p->tc, 0, '<', buf, k);
			hd__smtp_reply_line(&p->reply, buf, k);
			memmove(buf, buf + k, have - k);
			have -= k;
			if (!p->reply.open && p->reply.code)
				return 0;
		}
		if (have == sizeof(buf) - 1) {
			copy(p->errbuf, sizeof(p->errbuf),
			     "a reply line longer than 4 KiB");
			return -1;
		}
	}
timeout:
	snprintf(p->errbuf, sizeof(p->errbuf), "no reply within %ld ms",
		 p->timeout_ms);
	return -1;
}

/* The status a row's refused command has: 4xx transient, 5xx not. */
static hd_status refused(long code)
{
	return code >= 500 ? HD_EPERMANENT : HD_ETRANSIENT;
}

static void note_worst(struct probe *p, hd_status st)
{
	if (p->worst == HD_OK || st == HD_EPERMANENT)
		p->worst = st;
}

/* MAIL FROM and RCPT TO of one row, then RSET.  -1 when the connection
 * is gone, -2 when the server wants AUTH. */
static int smtp_row(struct probe *p, CURL *h, const struct target *t,
		    hd_error *err)
{
	char line[600];
	long code;

	snprintf(line, sizeof(line), "MAIL FROM:<%s>\r\n", t->from);
	if (smtp_command(p, h, line) != 0) {
		step(p, HD_EINTERRUPTED, err, "row %ld: MAIL FROM:<%s>: %s",
		     t->row, t->from, p->errbuf);
		return -1;
	}
	code = p->reply.code;
	hd__smtp_redact(p->reply.text, NULL, 0);
	if (code == 530) {
		/* as a send meets it: no row can go without AUTH */
		step(p, HD_ECONFIG, err,
		     "row %ld: MAIL FROM:<%s>: %ld %s (the server wants AUTH: "
		     "--smtp-user)",
		     t->row, t->from, code, p->reply.text);
		return -2;
	}
	step(p, code / 100 == 2 ? HD_OK : refused(code), err,
	     "row %ld: MAIL FROM:<%s>: %ld %s", t->row, t->from, code,
	     p->reply.text);
	if (code / 100 != 2) {
		note_worst(p, refused(code));
	} else {
		for (size_t i = 0; i < t->nrcpt; i++) {
			snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n",
				 t->rcpt[i]);
			if (smtp_command(p, h, line) != 0) {
				step(p, HD_EINTERRUPTED, err,
				     "row %ld: RCPT TO:<%s>: %s", t->row,
				     t->rcpt[i], p->errbuf);
				return -1;
			}
			code = p->reply.code;
			hd__smtp_redact(p->reply.text, NULL, 0);
			step(p, code / 100 == 2 ? HD_OK : refused(code), err,
			     "row %ld: RCPT TO:<%s>: %ld %s", t->row,
			     t->rcpt[i], code, p->reply.text);
			if (code / 100 != 2)
				note_worst(p, refused(code));
		}
	}
	return smtp_command(p, h, "RSET\r\n");
}

/* The connection steps libcurl did, as far as it came. */
static hd_status smtp_connection(struct probe *p, CURL *h, CURLcode cc,
				 const char *host, int implicit_tls,
				 hd_error *err)
{
	const hd_run_config *cfg = p->cfg;
	const char *why = p->errbuf[0] ? p->errbuf : curl_easy_strerror(cc);

	if (no_connection(cc) ||
	    (cc == CURLE_OPERATION_TIMEDOUT && !p->greet_code && !p->tls[0])) {
		char *ip = NULL;
		curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip);
		if (cc == CURLE_OPERATION_TIMEDOUT && ip && ip[0]) {
			step_tcp(p, h, err);
			step(p, HD_EINTERRUPTED, err,
			     "smtp: no greeting from the server within %ld ms",
			     p->timeout_ms);
		} else {
			step(p, HD_EINTERRUPTED, err, "tcp: cannot connect: %s",
			     why);
		}
		return HD_EINTERRUPTED;
	}
	step_tcp(p, h, err);
	if (implicit_tls) {
		if (tls_refused(cc)) {
			tls_failed(p, cc, host, "", why, err);
			return HD_ECONFIG;
		}
		step(p, HD_OK, err, "tls: %s, certificate verified%s",
		     p->tls[0] ? p->tls : "TLS",
		     cfg->insecure ? " (no: --insecure)" : "");
	}
	if (!p->greet_code) {
		step(p, HD_EINTERRUPTED, err, "smtp: no greeting: %s", why);
		return HD_EINTERRUPTED;
	}
	hd__smtp_redact(p->greeting, NULL, 0);
	step(p, p->greet_code == 220 ? HD_OK : HD_EINTERRUPTED, err,
	     "smtp: greeting: %ld %s", p->greet_code, p->greeting);
	if (p->greet_code != 220)
		return HD_EINTERRUPTED;
	if (!p->ehlo_code) {
		step(p, HD_EINTERRUPTED, err, "smtp: EHLO: no answer: %s", why);
		return HD_EINTERRUPTED;
	}
	if (!implicit_tls && p->starttls_sent) {
		if (p->starttls_code != 220) {
			step(p, HD_ECONFIG, err, "tls: STARTTLS refused: %ld",
			     p->starttls_code);
			return HD_ECONFIG;
		}
		if (tls_refused(cc)) {
			tls_failed(p, cc, host, " (STARTTLS)", why, err);
			return HD_ECONFIG;
		}
		step(p, HD_OK, err, "tls: STARTTLS, %s, certificate verified%s",
		     p->tls[0] ? p->tls : "TLS",
		     cfg->insecure ? " (no: --insecure)" : "");
	} else if (!implicit_tls) {
		if (cc == CURLE_USE_SSL_FAILED) {
			step(p, HD_ECONFIG, err,
			     "tls: the server does not offer STARTTLS, and "
			     "AUTH without TLS is refused "
			     "(--allow-plaintext-auth allows it)");
			return HD_ECONFIG;
		}
		step(p, HD_OK, err,
		     "tls: not offered: messages would go unencrypted");
	}
	hd__smtp_redact(p->ehlo, NULL, 0);
	step(p, p->ehlo_code == 250 ? HD_OK : HD_ECONFIG, err,
	     "smtp: EHLO: %ld %s", p->ehlo_code, p->ehlo);
	if (p->ehlo_code != 250)
		return HD_ECONFIG;
	if (cfg->smtp_user && cfg->smtp_user[0]) {
		if (cc == CURLE_LOGIN_DENIED ||
		    (p->auth_code && p->auth_code != 235)) {
			hd__smtp_redact(p->auth, NULL, 0);
			step(p, HD_ECONFIG, err,
			     "auth: the credentials were refused: %ld %s",
			     p->auth_code, p->auth[0] ? p->auth : why);
			return HD_ECONFIG;
		}
		if (cc != CURLE_OK) {
			step(p, HD_ECONFIG, err, "auth: %s", why);
			return HD_ECONFIG;
		}
		hd__smtp_redact(p->auth, NULL, 0);
		step(p, HD_OK, err, "auth: %ld %s", p->auth_code, p->auth);
	} else if (cc == CURLE_OK) {
		step(p, HD_OK, err, "auth: none (no --smtp-user)");
	}
	if (cc != CURLE_OK) {
		step(p, HD_ECONFIG, err, "smtp: %s", why);
		return HD_ECONFIG;
	}
	return HD_OK;
}

static hd_status probe_smtp(struct probe *p, const struct target *t, size_t n,
			    hd_error *err)
{
	const hd_run_config *cfg = p->cfg;
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *scheme = NULL;
	CURL *h = NULL;
	CURLcode cc;
	hd_status st = HD_OK;
	int implicit_tls, user = cfg->smtp_user && cfg->smtp_user[0];

	if (!u ||
	    curl_url_set(u, CURLUPART_URL, cfg->smtp_url,
			 CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
		CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		st = hd_error_set(err, HD_ECONFIG, NULL, 0, 0, "bad SMTP URL");
		goto out;
	}
	implicit_tls = !strcmp(scheme, "smtps");
	if (host[0] == '[') { /* getaddrinfo wants the address bare */
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	st = step_dns(p, host, port, err);
	if (st != HD_OK)
		goto out;
	h = curl_easy_init();
	if (!h) {
		st = hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
		goto out;
	}
	cc = common_options(p, h, cfg->smtp_url, smtp_debug);
	/* the TLS policy of the SMTP transport: with AUTH, TLS or nothing
	 * (unless allowed); smtps:// is TLS from the first byte */
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(
		    h, CURLOPT_USE_SSL,
		    implicit_tls || (user && !cfg->allow_plaintext_auth)
			? (long)CURLUSESSL_ALL
			: (long)CURLUSESSL_TRY);
	if (cc == CURLE_OK && user)
		cc = curl_easy_setopt(h, CURLOPT_USERNAME, cfg->smtp_user);
	if (cc == CURLE_OK && user)
		cc = curl_easy_setopt(h, CURLOPT_PASSWORD,
				      cfg->smtp_password ? cfg->smtp_password
							 : "");
	if (cc != CURLE_OK) {
		st = hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				  "libcurl refused an option: %s",
				  curl_easy_strerror(cc));
		goto out;
	}
	p->expect = X_GREETING;
	cc = curl_easy_perform(h);
	st = smtp_connection(p, h, cc, host, implicit_tls, err);
	for (size_t i = 0; st == HD_OK && i < n; i++) {
		int r = smtp_row(p, h, &t[i], err);
		st = r == 0 ? HD_OK : r == -2 ? HD_ECONFIG : HD_EINTERRUPTED;
	}
	if (st == HD_OK) {
		(void)smtp_command(p, h, "QUIT\r\n");
		st = p->worst;
		if (st != HD_OK)
			hd_error_set(err, st, NULL, 0, 0,
				     "the server refused %s of the first "
				     "rows (see above)",
				     st == HD_EPERMANENT ? "some"
							 : "for now some");
	}
out:
	curl_easy_cleanup(h);
	curl_free(host);
	curl_free(port);
	curl_free(scheme);
	curl_url_cleanup(u);
	return st;
}

/* ---- HTTP ------------------------------------------------------------- */

static int http_debug(CURL *h, curl_infotype type, char *data, size_t size,
		      void *userp)
{
	struct probe *p = userp;
	(void)h;

	hd__trace_curl(&p->tc, 0, type, data, size);
	note_tls(p, type, data, size);
	return 0;
}

/* One destination of the requests: dns, tcp, TLS; no request. */
static hd_status http_host(struct probe *p, const char *scheme,
			   const char *host, const char *port, hd_error *err)
{
	char url[600];
	CURL *h = curl_easy_init();
	CURLcode cc;
	int tls = !strcmp(scheme, "https");
	hd_status st;

	if (!h)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	st = step_dns(p, host, port, err);
	if (st != HD_OK)
		goto out;
	snprintf(url, sizeof(url), "%s://%s%s%s:%s/", scheme,
		 strchr(host, ':') ? "[" : "", host,
		 strchr(host, ':') ? "]" : "", port);
	p->tls[0] = '\0';
	p->errbuf[0] = '\0';
	cc = common_options(p, h, url, http_debug);
	if (cc == CURLE_OK)
		cc = curl_easy_perform(h);
	if (no_connection(cc) ||
	    (cc == CURLE_OPERATION_TIMEDOUT && !p->tls[0])) {
		step(p, HD_EINTERRUPTED, err,
		     "tcp: cannot connect to %s:%s: %s", host, port,
		     p->errbuf[0] ? p->errbuf : curl_easy_strerror(cc));
		st = HD_EINTERRUPTED;
		goto out;
	}
	step_tcp(p, h, err);
	if (tls && cc != CURLE_OK) {
		tls_failed(p, cc, host, "",
			   p->errbuf[0] ? p->errbuf : curl_easy_strerror(cc),
			   err);
		st = HD_ECONFIG;
	} else if (tls) {
		step(p, HD_OK, err, "tls: %s, certificate of %s verified%s",
		     p->tls[0] ? p->tls : "TLS", host,
		     p->cfg->insecure ? " (no: --insecure)" : "");
	} else if (cc == CURLE_OK) {
		step(p, HD_OK, err,
		     "tls: none (http://): requests to %s go unencrypted",
		     host);
	} else {
		st = HD_EINTERRUPTED;
		step(p, st, err, "tcp: %s", curl_easy_strerror(cc));
	}
out:
	curl_easy_cleanup(h);
	return st;
}

static hd_status probe_http(struct probe *p, const struct target *t, size_t n,
			    hd_error *err)
{
	char seen[PROBE_ROWS][300];
	size_t nseen = 0;
	hd_status st = HD_OK;

	for (size_t i = 0; st == HD_OK && i < n; i++) {
		CURLU *u = curl_url();
		char *host = NULL, *port = NULL, *scheme = NULL, key[300];
		size_t k;

		if (u &&
		    curl_url_set(u, CURLUPART_URL, t[i].url, 0) == CURLUE_OK &&
		    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
		    curl_url_get(u, CURLUPART_PORT, &port,
				 CURLU_DEFAULT_PORT) == CURLUE_OK &&
		    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ==
			CURLUE_OK) {
			if (host[0] == '[') {
				memmove(host, host + 1, strlen(host));
				host[strcspn(host, "]")] = '\0';
			}
			snprintf(key, sizeof(key), "%s://%s:%s", scheme, host,
				 port);
			for (k = 0; k < nseen && strcmp(seen[k], key); k++)
				;
			if (k == nseen) {
				copy(seen[nseen++], sizeof(seen[0]), key);
				st = http_host(p, scheme, host, port, err);
			}
		} else {
			st = hd_error_set(err, HD_EINVAL, NULL, 0, 0,
					  "row %ld: the URL cannot be parsed",
					  t[i].row);
		}
		curl_free(host);
		curl_free(port);
		curl_free(scheme);
		curl_url_cleanup(u);
	}
	return st;
}

/* ---- the whole probe -------------------------------------------------- */

hd_status hd_connect_check(const hd_run_config *cfg, hd_error *err)
{
	struct probe p;
	struct target t[PROBE_ROWS];
	hd_message_kind kind = HD_MSG_EMAIL;
	size_t n = 0;
	hd_status st, tst;

	memset(&p, 0, sizeof(p));
	hd_error_clear(err);
	p.cfg = cfg;
	p.timeout_ms =
	    cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0,
				    "libcurl could not be initialised");
	st = first_rows(cfg, &kind, t, &n, err);
	if (st == HD_OK)
		st = hd__trace_open_run(cfg, &p.trace, err);
	hd__trace_conn_init(&p.tc, p.trace, 1);
	if (st == HD_OK && kind == HD_MSG_EMAIL && !cfg->smtp_url)
		step(&p, HD_OK, err,
		     "no --smtp: messages would be written to %s, nothing to "
		     "connect to",
		     cfg->outbox_dir ? cfg->outbox_dir : "outbox");
	else if (st == HD_OK && kind == HD_MSG_EMAIL)
		st = probe_smtp(&p, t, n, err);
	else if (st == HD_OK)
		st = probe_http(&p, t, n, err);
	targets_free(t, n);
	tst = hd__trace_close(p.trace, st == HD_OK ? err : NULL);
	if (st == HD_OK)
		st = tst;
	curl_global_cleanup();
	return st;
}
