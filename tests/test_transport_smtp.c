/*
 * test_transport_smtp.c — hd_transport_smtp against a real SMTP server.
 *
 * Each test starts tests/servers/smtp_server.py (aiosmtpd) on 127.0.0.1
 * with the faults it needs, drives the transport directly (check, open,
 * send, close) and checks what the server stored and counted: the exact
 * bytes, the envelope, the number of connections.  TLS material comes from
 * tests/servers/make_certs.sh in a scratch folder.
 *
 * Needs /usr/bin/python3 with aiosmtpd, and openssl; without them it
 * prints SKIPPED and exits 77.
 */
#include "buf.h"
#include "transport.h"

#include "servers/spawn.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>

/* cmocka needs these first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define PYTHON "/usr/bin/python3"
#define PASSWORD "S3cret-pw!"

static char g_tmp[512];		/* scratch folder of this run */
static char g_certs[PATH_MAX];	/* make_certs.sh output */
static char g_script[PATH_MAX]; /* smtp_server.py */
static int g_nserver;		/* numbers the servers' folders */
static pid_t g_running[4];	/* servers to kill when a test fails */

struct srv {
	struct spawn_server sp;
	char dir[PATH_MAX];
	char url[80];
};

static void cert_path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", g_certs, name);
}

/* Starts smtp_server.py with the options given (NULL-terminated). */
static void srv_start(struct srv *s, const char *scheme, ...)
{
	char pf[PATH_MAX + 16], spool[PATH_MAX + 16], stats[PATH_MAX + 16];
	char *argv[40];
	int argc = 0;
	va_list ap;
	const char *a;

	snprintf(s->dir, sizeof(s->dir), "%s/srv%d", g_tmp, ++g_nserver);
	assert_int_equal(mkdir(s->dir, 0700), 0);
	snprintf(pf, sizeof(pf), "%s/port", s->dir);
	snprintf(spool, sizeof(spool), "%s/spool", s->dir);
	snprintf(stats, sizeof(stats), "%s/stats.json", s->dir);
	argv[argc++] = PYTHON;
	argv[argc++] = g_script;
	argv[argc++] = "--port-file";
	argv[argc++] = pf;
	argv[argc++] = "--spool";
	argv[argc++] = spool;
	argv[argc++] = "--stats";
	argv[argc++] = stats;
	va_start(ap, scheme);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 38)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;
	assert_int_equal(spawn_server_start(&s->sp, argv, pf, 15000), 0);
	for (int i = 0; i < 4; i++) {
		if (!g_running[i]) {
			g_running[i] = s->sp.pid;
			break;
		}
	}
	snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%d", scheme,
		 s->sp.port);
}

static void srv_stop(struct srv *s)
{
	for (int i = 0; i < 4; i++)
		if (g_running[i] == s->sp.pid)
			g_running[i] = 0;
	assert_int_equal(spawn_server_stop(&s->sp), 0); /* clean SIGTERM */
}

/* After each test: a test that failed half-way left its server running. */
static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++) {
		struct spawn_server sp = {g_running[i], 0};
		if (sp.pid)
			spawn_server_stop(&sp);
		g_running[i] = 0;
	}
	return 0;
}

/* A number from the server's stats.json. */
static long srv_stat(const struct srv *s, const char *key)
{
	char path[PATH_MAX + 16];
	json_error_t jerr;
	json_t *j, *v;
	long n;

	snprintf(path, sizeof(path), "%s/stats.json", s->dir);
	j = json_load_file(path, 0, &jerr);
	assert_non_null(j);
	v = json_object_get(j, key);
	assert_true(json_is_integer(v));
	n = (long)json_integer_value(v);
	json_decref(j);
	return n;
}

/* Stored message number n (1-based): its bytes, and its sidecar JSON. */
static char *spool_data(const struct srv *s, int n, size_t *len)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/spool/%06d.eml", s->dir, n);
	return spawn_read_file(path, len);
}

static json_t *spool_meta(const struct srv *s, int n)
{
	char path[PATH_MAX + 32];
	json_error_t jerr;

	snprintf(path, sizeof(path), "%s/spool/%06d.json", s->dir, n);
	return json_load_file(path, 0, &jerr);
}

/* An email with one or more recipients (NULL-terminated), owning copies. */
static hd_message *msg_new(const char *from, const char *data, size_t len, ...)
{
	hd_message *m = calloc(1, sizeof(*m));
	va_list ap;
	const char *r;

	assert_non_null(m);
	m->kind = HD_MSG_EMAIL;
	m->email.from = strdup(from);
	m->email.data = malloc(len + 1);
	assert_non_null(m->email.data);
	memcpy(m->email.data, data, len);
	m->email.len = len;
	m->email.rcpt = calloc(8, sizeof(char *));
	va_start(ap, len);
	while ((r = va_arg(ap, const char *)) != NULL && m->email.nrcpt < 8)
		m->email.rcpt[m->email.nrcpt++] = strdup(r);
	va_end(ap);
	return m;
}

static void msg_free(hd_message *m)
{
	if (!m)
		return;
	free(m->email.from);
	for (size_t i = 0; i < m->email.nrcpt; i++)
		free(m->email.rcpt[i]);
	free(m->email.rcpt);
	free(m->email.data);
	free(m);
}

static const char simple_body[] = "From: a@example.com\r\n"
				  "To: b@example.com\r\n"
				  "Subject: test\r\n"
				  "\r\n"
				  "Hello.\r\n";

/* Sends one simple message to rcpt on conn; returns the result. */
static hd_send_result send_simple(void *conn, const char *rcpt)
{
	hd_message *m = msg_new("sender@example.com", simple_body,
				sizeof(simple_body) - 1, rcpt, NULL);
	hd_send_result res;

	memset(&res, 0x5a, sizeof(res)); /* send() must fill every field */
	hd_transport_smtp.send(conn, m, 1, &res);
	msg_free(m);
	return res;
}

static void *open_conn(const hd_transport_config *cfg)
{
	void *conn = NULL;
	hd_error err;

	hd_error_clear(&err);
	assert_int_equal(hd_transport_smtp.check(cfg, &err), HD_OK);
	assert_int_equal(hd_transport_smtp.open(cfg, 0, &conn, &err), HD_OK);
	assert_non_null(conn);
	return conn;
}

static void assert_sent(const hd_send_result *r)
{
	if (r->status != HD_OK)
		fprintf(stderr, "send failed: %ld [%s] %s\n", r->code,
			r->response, r->error);
	assert_int_equal(r->status, HD_OK);
	assert_int_equal(r->code, 250);
	assert_non_null(strstr(r->response, "queued as T"));
	assert_string_equal(r->error, "");
	assert_int_equal(r->fatal, 0);
	assert_int_equal(r->reconnect, 0);
	assert_int_equal(r->slow_down, 0);
	assert_true(r->retry_after < 0);
}

/* ---- check() -------------------------------------------------------- */

static void expect_config_error(const hd_transport_config *cfg,
				const char *needle)
{
	hd_error err;
	void *conn = (void *)&err;

	hd_error_clear(&err);
	assert_int_equal(hd_transport_smtp.check(cfg, &err), HD_ECONFIG);
	assert_int_equal(err.code, HD_ECONFIG);
	if (!strstr(err.msg, needle))
		fail_msg("'%s' does not say '%s'", err.msg, needle);
	/* The URL may hold a password: it is never echoed. */
	assert_null(strstr(err.msg, "hunter2"));
	assert_int_equal(hd_transport_smtp.open(cfg, 0, &conn, &err),
			 HD_ECONFIG);
	assert_null(conn);
}

static void test_check_config(void **state)
{
	static const struct {
		const char *url;
		const char *needle;
	} bad[] = {
	    {NULL, "no SMTP server given"},
	    {"", "no SMTP server given"},
	    {"http://mail.example.com", "must be smtp:// or smtps://"},
	    {"imap://mail.example.com", "must be smtp:// or smtps://"},
	    {"mail.example.com:25", "bad SMTP URL"},
	    {"smtp://", "bad SMTP URL"},
	    {"smtp://user:hunter2@mail.example.com", "never go in URLs"},
	    {"smtp://user@mail.example.com", "never go in URLs"},
	    {"smtp://;AUTH=LOGIN@mail.example.com", "never go in URLs"},
	    {"smtp://mail.example.com:99999", "bad SMTP URL"},
	    {"smtp://mail.example.com/?x=1", "query or fragment"},
	    {"smtp://mail.example.com/#x", "query or fragment"},
	    {"smtp://mail.example.com/a/b", "may not have a path"},
	    {"smtp://mail.example.com:587/submission", "may not have a path"},
	    {"smtp://mail.example.com/client.example", "may not have a path"},
	};
	hd_transport_config cfg = {0};
	hd_error err;
	char ca[PATH_MAX + 16];
	(void)state;

	assert_string_equal(hd_transport_smtp.name, "smtp");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.url = bad[i].url;
		expect_config_error(&cfg, bad[i].needle);
	}

	/* Credentials and TLS policy. */
	cfg.url = "smtp://mail.example.com:587";
	cfg.user = "ann";
	expect_config_error(&cfg, "no password: set HERALD_SMTP_PASSWORD or "
				  "--smtp-password-file");
	cfg.password = "";
	expect_config_error(&cfg, "no password");
	cfg.user = NULL;
	cfg.password = "hunter2";
	expect_config_error(&cfg, "no user");
	cfg.password = NULL;
	cfg.cacert = "/nonexistent/ca.pem";
	expect_config_error(&cfg, "cannot read the CA certificate file");

	/* Good ones. */
	cert_path(ca, sizeof(ca), "ca.pem");
	cfg.cacert = ca;
	static const char *const good[] = {
	    "smtp://mail.example.com",
	    "smtp://mail.example.com:587",
	    "smtps://mail.example.com:465",
	    "SMTP://127.0.0.1:25/",
	    "smtp://[::1]:25",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cfg.url = good[i];
		hd_error_clear(&err);
		if (hd_transport_smtp.check(&cfg, &err) != HD_OK)
			fail_msg("%s: %s", good[i], err.msg);
	}
	cfg.url = "smtp://mail.example.com:587";
	cfg.user = "ann";
	cfg.password = "hunter2";
	assert_int_equal(hd_transport_smtp.check(&cfg, &err), HD_OK);
	cfg.allow_plaintext_auth = 1;
	assert_int_equal(hd_transport_smtp.check(&cfg, &err), HD_OK);
	/* close(NULL) is allowed. */
	hd_transport_smtp.close(NULL);
}

/* Messages the transport refuses itself, without talking to anyone. */
static void test_bad_messages(void **state)
{
	hd_transport_config cfg = {0};
	hd_send_result res;
	hd_message *m;
	void *conn;
	(void)state;

	/* Port 9 (discard) on 127.0.0.1: nothing may be attempted at all,
	 * so "cannot connect" would be a failure of this test too. */
	cfg.url = "smtp://127.0.0.1:9";
	conn = open_conn(&cfg);

	m = msg_new("a@example.com", "x\r\n", 3, "b@example.com\r\nDATA", NULL);
	hd_transport_smtp.send(conn, m, 1, &res);
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_string_equal(res.error,
			    "envelope recipient 1 not usable in RCPT TO");
	assert_int_equal(res.code, 0);
	msg_free(m);

	m = msg_new("a@example.com>", "x\r\n", 3, "b@example.com", NULL);
	hd_transport_smtp.send(conn, m, 1, &res);
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_string_equal(res.error,
			    "envelope sender not usable in MAIL FROM");
	msg_free(m);

	m = msg_new("a@example.com", "x\r\n", 3, NULL);
	hd_transport_smtp.send(conn, m, 1, &res);
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_string_equal(res.error, "no envelope recipient");
	m->kind = HD_MSG_HTTP;
	hd_transport_smtp.send(conn, m, 1, &res);
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_string_equal(res.error, "not an email message (kind 2)");
	msg_free(m);

	hd_transport_smtp.send(NULL, NULL, 1, &res);
	assert_int_equal(res.status, HD_EPERMANENT);
	hd_transport_smtp.close(conn);
}

/* ---- delivery ------------------------------------------------------- */

static void test_exact_bytes(void **state)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	hd_buf body = HD_BUF_INIT;
	hd_message *m;
	char *got;
	size_t len;
	json_t *meta;
	void *conn;
	(void)state;

	srv_start(&s, "smtp", NULL);
	cfg.url = s.url;
	cfg.timeout_ms = 10000;
	conn = open_conn(&cfg);

	/* Lines that dot-stuffing must survive, 8-bit bytes, a 998-octet
	 * line (RFC 5322 2.1.1's limit), a lone "." that must not end DATA
	 * early. */
	hd_buf_puts(&body, "From: Ann <ann@example.com>\r\n"
			   "To: bob@example.com\r\n"
			   "Subject: dots\r\n"
			   "\r\n"
			   ".starts with a dot\r\n"
			   "..two dots\r\n"
			   ".\r\n"
			   "caf\xc3\xa9 \xe2\x82\xac\r\n"
			   " .space dot\r\n");
	for (int i = 0; i < 998; i++)
		hd_buf_putc(&body, (char)('a' + i % 26));
	hd_buf_puts(&body, "\r\n.\r\n..\r\nlast line\r\n");
	m = msg_new("ann@example.com", body.data, body.len, "bob@example.com",
		    "carl@example.com", NULL);
	hd_transport_smtp.send(conn, m, 7, &res);
	assert_sent(&res);
	assert_string_equal(res.response, "2.0.0 Ok: queued as T000001");

	got = spool_data(&s, 1, &len);
	assert_non_null(got);
	assert_int_equal(len, body.len);
	assert_memory_equal(got, body.data, body.len);
	free(got);
	meta = spool_meta(&s, 1);
	assert_non_null(meta);
	assert_string_equal(
	    json_string_value(json_object_get(meta, "mail_from")),
	    "ann@example.com");
	assert_int_equal(json_array_size(json_object_get(meta, "rcpt_tos")), 2);
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(meta, "rcpt_tos"), 1)),
			    "carl@example.com");
	json_decref(meta);
	msg_free(m);

	/* An empty envelope sender (bounces, RFC 5321 4.5.5). */
	m = msg_new("", simple_body, sizeof(simple_body) - 1, "bob@example.com",
		    NULL);
	hd_transport_smtp.send(conn, m, 8, &res);
	assert_sent(&res);
	meta = spool_meta(&s, 2);
	assert_string_equal(
	    json_string_value(json_object_get(meta, "mail_from")), "<>");
	json_decref(meta);
	msg_free(m);

	hd_transport_smtp.close(conn);
	assert_int_equal(srv_stat(&s, "messages"), 2);
	hd_buf_free(&body);
	srv_stop(&s);
}

/* 20 messages on one handle go over one SMTP session. */
static void test_reuse(void **state)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	char rcpt[64], want[64];
	json_t *meta;
	void *conn;
	(void)state;

	srv_start(&s, "smtp", NULL);
	cfg.url = s.url;
	conn = open_conn(&cfg);
	for (int i = 1; i <= 20; i++) {
		snprintf(rcpt, sizeof(rcpt), "r%d@example.com", i);
		res = send_simple(conn, rcpt);
		assert_sent(&res);
		snprintf(want, sizeof(want), "2.0.0 Ok: queued as T%06d", i);
		assert_string_equal(res.response, want);
	}
	assert_int_equal(srv_stat(&s, "messages"), 20);
	assert_int_equal(srv_stat(&s, "connections"), 1);
	meta = spool_meta(&s, 20);
	assert_int_equal(
	    json_integer_value(json_object_get(meta, "connection")), 1);
	json_decref(meta);
	hd_transport_smtp.close(conn);
	srv_stop(&s);
}

/* max_per_connection 5: 20 messages need 4 sessions, 5 messages each. */
static void test_max_per_connection(void **state)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	json_t *meta;
	void *conn;
	(void)state;

	srv_start(&s, "smtp", NULL);
	cfg.url = s.url;
	cfg.max_per_connection = 5;
	conn = open_conn(&cfg);
	for (int i = 1; i <= 20; i++) {
		res = send_simple(conn, "capped@example.com");
		assert_sent(&res);
		/* The last reply kept is the message's, not QUIT's 221. */
		assert_non_null(strstr(res.response, "queued"));
	}
	assert_int_equal(srv_stat(&s, "messages"), 20);
	assert_int_equal(srv_stat(&s, "connections"), 4);
	for (int i = 1; i <= 20; i++) {
		meta = spool_meta(&s, i);
		assert_int_equal(
		    json_integer_value(json_object_get(meta, "connection")),
		    (i - 1) / 5 + 1);
		json_decref(meta);
	}
	hd_transport_smtp.close(conn);
	srv_stop(&s);
}

/* ---- TLS and AUTH --------------------------------------------------- */

static void tls_files(char *cert, char *key, size_t size, const char *base)
{
	char name[64];

	snprintf(name, sizeof(name), "%s.pem", base);
	cert_path(cert, size, name);
	snprintf(name, sizeof(name), "%s.key", base);
	cert_path(key, size, name);
}

/* STARTTLS + AUTH with the mechanism(s) the server offers. */
static void starttls_auth(const char *mechs)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	char cert[PATH_MAX + 16], key[PATH_MAX + 16], ca[PATH_MAX + 16];
	json_t *meta;
	void *conn;

	tls_files(cert, key, sizeof(cert), "server");
	cert_path(ca, sizeof(ca), "ca.pem");
	srv_start(&s, "smtp", "--tls-cert", cert, "--tls-key", key,
		  "--require-tls", "--auth", "ann:" PASSWORD, "--auth-mechs",
		  mechs, NULL);
	cfg.url = s.url;
	cfg.user = "ann";
	cfg.password = PASSWORD;
	cfg.cacert = ca;
	conn = open_conn(&cfg);
	for (int i = 0; i < 3; i++) {
		res = send_simple(conn, "tls@example.com");
		assert_sent(&res);
	}
	assert_int_equal(srv_stat(&s, "messages"), 3);
	assert_int_equal(srv_stat(&s, "connections"), 1);
	meta = spool_meta(&s, 3);
	assert_true(json_is_true(json_object_get(meta, "tls")));
	assert_true(json_is_true(json_object_get(meta, "authenticated")));
	json_decref(meta);
	hd_transport_smtp.close(conn);
	srv_stop(&s);
}

static void test_starttls_auth_plain(void **state)
{
	(void)state;
	starttls_auth("PLAIN");
}

static void test_starttls_auth_login(void **state)
{
	(void)state;
	starttls_auth("LOGIN");
}

static void test_smtps(void **state)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	char cert[PATH_MAX + 16], key[PATH_MAX + 16], ca[PATH_MAX + 16];
	void *conn;
	(void)state;

	tls_files(cert, key, sizeof(cert), "server");
	cert_path(ca, sizeof(ca), "ca.pem");
	srv_start(&s, "smtps", "--tls-cert", cert, "--tls-key", key,
		  "--implicit-tls", "--auth", "ann:" PASSWORD, NULL);
	cfg.url = s.url;
	cfg.user = "ann";
	cfg.password = PASSWORD;
	cfg.cacert = ca;
	conn = open_conn(&cfg);
	res = send_simple(conn, "smtps@example.com");
	assert_sent(&res);
	res = send_simple(conn, "smtps@example.com");
	assert_sent(&res);
	assert_int_equal(srv_stat(&s, "connections"), 1);
	hd_transport_smtp.close(conn);
	srv_stop(&s);
}

static void assert_no_secret(const hd_send_result *r)
{
	/* "S3cret-pw!" in clear and base64 ("UzNjcmV0LXB3IQ=="). */
	static const char *const forms[] = {PASSWORD, "UzNjcmV0LXB3IQ",
					    "S3cret"};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		assert_null(strstr(r->response, forms[i]));
		assert_null(strstr(r->error, forms[i]));
	}
}

static void test_wrong_password(void **state)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	char cert[PATH_MAX + 16], key[PATH_MAX + 16], ca[PATH_MAX + 16];
	void *conn;
	(void)state;

	tls_files(cert, key, sizeof(cert), "server");
	cert_path(ca, sizeof(ca), "ca.pem");
	srv_start(&s, "smtp", "--tls-cert", cert, "--tls-key", key, "--auth",
		  "ann:right-password", NULL);
	cfg.url = s.url;
	cfg.user = "ann";
	cfg.password = PASSWORD;
	cfg.cacert = ca;
	conn = open_conn(&cfg);
	res = send_simple(conn, "x@example.com");
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_int_equal(res.fatal, 1);
	assert_int_equal(res.code, 535);
	assert_int_equal(res.reconnect, 0);
	assert_string_equal(res.response,
			    "5.7.8 Authentication credentials invalid");
	assert_true(strncmp(res.error,
			    "authentication failed: 535 5.7.8 Authentication "
			    "credentials invalid",
			    62) == 0);
	assert_no_secret(&res);
	hd_transport_smtp.close(conn);
	assert_int_equal(srv_stat(&s, "messages"), 0);
	srv_stop(&s);
}

/* A reply that quotes the password comes back with it masked. */
static void test_redaction(void **state)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	char cert[PATH_MAX + 16], key[PATH_MAX + 16], ca[PATH_MAX + 16];
	void *conn;
	(void)state;

	tls_files(cert, key, sizeof(cert), "server");
	cert_path(ca, sizeof(ca), "ca.pem");
	srv_start(&s, "smtp", "--tls-cert", cert, "--tls-key", key, "--auth",
		  "ann:" PASSWORD, "--reject-rcpt",
		  "^bad@:550 5.1.1 no " PASSWORD " or UzNjcmV0LXB3IQ== here",
		  NULL);
	cfg.url = s.url;
	cfg.user = "ann";
	cfg.password = PASSWORD;
	cfg.cacert = ca;
	conn = open_conn(&cfg);
	res = send_simple(conn, "bad@example.com");
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_int_equal(res.code, 550);
	assert_string_equal(res.response, "5.1.1 no *** or *** here");
	assert_no_secret(&res);
	hd_transport_smtp.close(conn);
	srv_stop(&s);
}

/* Credentials for a server without STARTTLS: refused before AUTH. */
static void test_plaintext_refused(void **state)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	void *conn;
	(void)state;

	srv_start(&s, "smtp", "--auth", "ann:" PASSWORD, "--auth-plaintext",
		  NULL);
	cfg.url = s.url;
	cfg.user = "ann";
	cfg.password = PASSWORD;
	conn = open_conn(&cfg);
	res = send_simple(conn, "x@example.com");
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_int_equal(res.fatal, 1);
	assert_string_equal(res.error,
			    "server does not offer STARTTLS; refusing to send "
			    "credentials in plaintext (--allow-plaintext-auth "
			    "to override)");
	assert_no_secret(&res);
	hd_transport_smtp.close(conn);
	assert_int_equal(srv_stat(&s, "messages"), 0);

	/* Explicitly allowed: AUTH in plaintext works. */
	cfg.allow_plaintext_auth = 1;
	conn = open_conn(&cfg);
	res = send_simple(conn, "x@example.com");
	assert_sent(&res);
	hd_transport_smtp.close(conn);
	assert_int_equal(srv_stat(&s, "messages"), 1);
	srv_stop(&s);
}

static void test_untrusted_cert(void **state)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	char cert[PATH_MAX + 16], key[PATH_MAX + 16], ca[PATH_MAX + 16];
	void *conn;
	(void)state;

	tls_files(cert, key, sizeof(cert), "untrusted");
	cert_path(ca, sizeof(ca), "ca.pem");
	srv_start(&s, "smtp", "--tls-cert", cert, "--tls-key", key, "--auth",
		  "ann:" PASSWORD, NULL);
	cfg.url = s.url;
	cfg.user = "ann";
	cfg.password = PASSWORD;
	cfg.cacert = ca;
	conn = open_conn(&cfg);
	res = send_simple(conn, "x@example.com");
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_int_equal(res.fatal, 1);
	if (strncmp(res.error,
		    "TLS certificate of 127.0.0.1 not trusted: ", 42) != 0)
		fail_msg("error: %s", res.error);
	assert_no_secret(&res);
	hd_transport_smtp.close(conn);

	/* Opportunistic STARTTLS (no credentials) still verifies. */
	cfg.user = cfg.password = NULL;
	conn = open_conn(&cfg);
	res = send_simple(conn, "x@example.com");
	assert_int_equal(res.fatal, 1);
	assert_non_null(strstr(res.error, "not trusted"));
	hd_transport_smtp.close(conn);
	assert_int_equal(srv_stat(&s, "messages"), 0);

	/* --insecure: sent. */
	cfg.user = "ann";
	cfg.password = PASSWORD;
	cfg.insecure = 1;
	conn = open_conn(&cfg);
	res = send_simple(conn, "x@example.com");
	assert_sent(&res);
	hd_transport_smtp.close(conn);
	srv_stop(&s);
}

/* ---- server refusals ------------------------------------------------ */

static void test_rcpt_rejected(void **state)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	hd_message *m;
	void *conn;
	(void)state;

	char long_opt[800] = "^long@:550 5.7.1 ";
	size_t n = strlen(long_opt);

	/* A reply longer than the result's field. */
	memset(long_opt + n, 'x', 700);
	long_opt[n + 700] = '\0';
	srv_start(&s, "smtp", "--reject-rcpt", "^bad@:550", "--reject-rcpt",
		  "^multi@:550-5.1.1 first line\r\n550-\r\n"
		  "550 5.1.1 last\x01line",
		  "--reject-rcpt", long_opt, NULL);
	cfg.url = s.url;
	conn = open_conn(&cfg);
	res = send_simple(conn, "bad@example.com");
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_int_equal(res.code, 550);
	assert_string_equal(res.response,
			    "5.1.1 Recipient address rejected: user unknown");
	assert_true(strncmp(res.error,
			    "refused: 550 5.1.1 Recipient address rejected",
			    45) == 0);
	assert_int_equal(res.fatal, 0);
	assert_int_equal(res.reconnect, 0);
	assert_int_equal(res.slow_down, 0);

	/* One bad recipient fails the whole message. */
	m = msg_new("a@example.com", simple_body, sizeof(simple_body) - 1,
		    "good@example.com", "bad@example.com", NULL);
	hd_transport_smtp.send(conn, m, 1, &res);
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_int_equal(res.code, 550);
	msg_free(m);

	/* Multi-line: the lines joined, control bytes made '?'. */
	res = send_simple(conn, "multi@example.com");
	assert_int_equal(res.code, 550);
	assert_string_equal(res.response, "5.1.1 first line 5.1.1 last?line");
	/* Bounded: cut to the field, NUL-terminated. */
	res = send_simple(conn, "long@example.com");
	assert_int_equal(res.code, 550);
	assert_int_equal(strlen(res.response), sizeof(res.response) - 1);
	assert_true(strncmp(res.response, "5.7.1 xxxx", 10) == 0);
	assert_int_equal(strlen(res.error), sizeof(res.error) - 1);

	res = send_simple(conn, "good@example.com");
	assert_sent(&res);
	assert_int_equal(srv_stat(&s, "messages"), 1);
	hd_transport_smtp.close(conn);
	srv_stop(&s);
}

/* A refusal of the message after its final "." (code reply at DATA end). */
static void refused_at_data(const char *reply, long code, int slow,
			    const char *text)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	char opt[128];
	void *conn;

	snprintf(opt, sizeof(opt), "1:%s", reply);
	srv_start(&s, "smtp", "--fail-first", opt, NULL);
	cfg.url = s.url;
	conn = open_conn(&cfg);
	/* --fail-first counts per recipient: this one is refused first
	 * too, then "later" is refused on the kept session, after its body
	 * went out, where a reconnect would risk sending it twice. */
	res = send_simple(conn, "warm@example.com");
	assert_int_equal(res.code, code);
	res = send_simple(conn, "warm@example.com");
	assert_sent(&res);
	res = send_simple(conn, "later@example.com");
	assert_int_equal(res.status, HD_ETRANSIENT);
	assert_int_equal(res.code, code);
	assert_int_equal(res.slow_down, slow);
	assert_int_equal(res.fatal, 0);
	assert_int_equal(res.reconnect, 0); /* the body had gone out */
	assert_string_equal(res.response, text);
	if (strncmp(res.error, "temporarily refused: ", 21) != 0 &&
	    strncmp(res.error, "server is closing the connection: ", 34) != 0)
		fail_msg("error: %s", res.error);
	/* The retry goes through. */
	res = send_simple(conn, "later@example.com");
	assert_sent(&res);
	assert_int_equal(srv_stat(&s, "messages"), 2);
	assert_int_equal(srv_stat(&s, "rejected"), 2);
	hd_transport_smtp.close(conn);
	srv_stop(&s);
}

static void test_451_transient(void **state)
{
	(void)state;
	refused_at_data("451", 451, 0,
			"4.3.0 Temporary local problem, try again later");
}

static void test_421_slow_down(void **state)
{
	(void)state;
	refused_at_data("421", 421, 1,
			"4.7.0 Too many messages, closing connection");
}

static void test_47x_slow_down(void **state)
{
	(void)state;
	refused_at_data("450 4.7.1 Rate limit exceeded", 450, 1,
			"4.7.1 Rate limit exceeded");
}

/* A 421 on a kept session before the message: reconnect, slow down. */
static void test_421_before_body(void **state)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	void *conn;
	(void)state;

	srv_start(&s, "smtp", "--reject-rcpt", "^busy@:421", NULL);
	cfg.url = s.url;
	conn = open_conn(&cfg);
	res = send_simple(conn, "ok@example.com");
	assert_sent(&res);
	res = send_simple(conn, "busy@example.com");
	assert_int_equal(res.status, HD_ETRANSIENT);
	assert_int_equal(res.code, 421);
	assert_int_equal(res.slow_down, 1);
	assert_int_equal(res.reconnect, 1);
	/* On a fresh connection the same 421 is an ordinary failure. */
	res = send_simple(conn, "busy@example.com");
	assert_int_equal(res.code, 421);
	assert_int_equal(res.reconnect, 0);
	res = send_simple(conn, "ok@example.com");
	assert_sent(&res);
	assert_int_equal(srv_stat(&s, "connections"), 3);
	hd_transport_smtp.close(conn);
	srv_stop(&s);
}

/* ---- dead connections ----------------------------------------------- */

/* The server closes right after each message, as if its idle timeout
 * fired at once.  libcurl sees the close before reuse, or we reconnect. */
static void test_close_after(void **state)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	void *conn;
	int reconnects = 0;
	(void)state;

	srv_start(&s, "smtp", "--close-after", "1", NULL);
	cfg.url = s.url;
	conn = open_conn(&cfg);
	for (int i = 0; i < 3; i++) {
		spawn_sleep_ms(50);
		res = send_simple(conn, "idle@example.com");
		if (res.status != HD_OK) {
			assert_int_equal(res.reconnect, 1);
			reconnects++;
			res = send_simple(conn, "idle@example.com");
		}
		assert_sent(&res);
	}
	assert_int_equal(srv_stat(&s, "messages"), 3);
	assert_int_equal(srv_stat(&s, "connections"), 3 + reconnects);
	hd_transport_smtp.close(conn);
	srv_stop(&s);
}

/* The server drops the kept session just as MAIL FROM arrives: the
 * message never started, so reconnect = 1 and the retry succeeds. */
static void test_drop_reconnect(void **state)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	void *conn;
	(void)state;

	srv_start(&s, "smtp", "--drop-after", "1", NULL);
	cfg.url = s.url;
	conn = open_conn(&cfg);
	res = send_simple(conn, "a@example.com");
	assert_sent(&res);
	res = send_simple(conn, "b@example.com");
	assert_int_equal(res.status, HD_ETRANSIENT);
	assert_int_equal(res.reconnect, 1);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.fatal, 0);
	assert_string_equal(res.response, "");
	assert_true(strncmp(res.error, "connection lost", 15) == 0);
	res = send_simple(conn, "b@example.com");
	assert_sent(&res);
	assert_int_equal(srv_stat(&s, "messages"), 2);
	assert_int_equal(srv_stat(&s, "connections"), 2);
	hd_transport_smtp.close(conn);
	srv_stop(&s);
}

static void test_connection_refused(void **state)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	void *conn;
	(void)state;

	/* A port that was just free: the stopped server's. */
	srv_start(&s, "smtp", NULL);
	srv_stop(&s);
	cfg.url = s.url;
	conn = open_conn(&cfg);
	res = send_simple(conn, "x@example.com");
	assert_int_equal(res.status, HD_ETRANSIENT);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.fatal, 0);
	assert_int_equal(res.reconnect, 0);
	assert_true(strncmp(res.error, "cannot connect: ", 16) == 0);
	assert_string_equal(res.response, "");
	hd_transport_smtp.close(conn);
}

/* Timeout while the server sits on the final reply: the message was
 * handed over, so its fate is unknown: uncertain, no free reconnect, and
 * no reply code from an earlier command next to the error. */
static void test_timeout(void **state)
{
	struct srv s;
	hd_transport_config cfg = {0};
	hd_send_result res;
	void *conn;
	(void)state;

	srv_start(&s, "smtp", "--slow-ms", "3000", NULL);
	cfg.url = s.url;
	cfg.timeout_ms = 700;
	conn = open_conn(&cfg);
	res = send_simple(conn, "slow@example.com");
	assert_int_equal(res.status, HD_ETRANSIENT);
	assert_int_equal(res.reconnect, 0);
	assert_int_equal(res.fatal, 0);
	assert_int_equal(res.uncertain, 1);
	assert_string_equal(res.error, "sent, no reply within 0.7 s");
	assert_int_equal(res.code, 0);
	assert_string_equal(res.response, "");
	hd_transport_smtp.close(conn);
	srv_stop(&s);
}

/* ---- workers -------------------------------------------------------- */

struct worker_arg {
	const hd_transport_config *cfg;
	unsigned id;
	int sent;
};

static void *worker_main(void *p)
{
	struct worker_arg *w = p;
	void *conn = NULL;
	hd_send_result res;

	if (hd_transport_smtp.open(w->cfg, w->id, &conn, NULL) != HD_OK)
		return NULL;
	for (int i = 0; i < 5; i++) {
		res = send_simple(conn, "pool@example.com");
		w->sent += res.status == HD_OK;
	}
	hd_transport_smtp.close(conn);
	return NULL;
}

/* Each worker opens its own handle on its own thread: one session each. */
static void test_workers(void **state)
{
	struct srv s;
	hd_transport_config cfg = {0};
	char cert[PATH_MAX + 16], key[PATH_MAX + 16], ca[PATH_MAX + 16];
	struct worker_arg w[3];
	pthread_t t[3];
	(void)state;

	tls_files(cert, key, sizeof(cert), "server");
	cert_path(ca, sizeof(ca), "ca.pem");
	srv_start(&s, "smtp", "--tls-cert", cert, "--tls-key", key, "--auth",
		  "ann:" PASSWORD, NULL);
	cfg.url = s.url;
	cfg.user = "ann";
	cfg.password = PASSWORD;
	cfg.cacert = ca;
	assert_int_equal(hd_transport_smtp.check(&cfg, NULL), HD_OK);
	for (unsigned i = 0; i < 3; i++) {
		w[i] = (struct worker_arg){&cfg, i, 0};
		assert_int_equal(
		    pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (unsigned i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].sent, 5);
	}
	assert_int_equal(srv_stat(&s, "messages"), 15);
	assert_int_equal(srv_stat(&s, "connections"), 3);
	srv_stop(&s);
}

/* ---- setup ---------------------------------------------------------- */

static int have(char *const argv[])
{
	return spawn_run(argv, 1) == 0;
}

int main(void)
{
	static char *py_argv[] = {PYTHON, "-c", "import aiosmtpd.smtp", NULL};
	static char *ossl_argv[] = {"/bin/sh", "-c", "command -v openssl",
				    NULL};
	char *certs_argv[4];
	char script[PATH_MAX + 64];
	int rc;

	if (!have(py_argv) || !have(ossl_argv)) {
		fprintf(stderr,
			"SKIPPED: test_transport_smtp needs %s with "
			"aiosmtpd (python3-aiosmtpd) and openssl\n",
			PYTHON);
		return 77;
	}
	snprintf(g_script, sizeof(g_script), "%s/tests/servers/smtp_server.py",
		 spawn_src_dir());
	snprintf(script, sizeof(script), "%s/tests/servers/make_certs.sh",
		 spawn_src_dir());
	if (access(g_script, R_OK) != 0 || access(script, R_OK) != 0) {
		fprintf(stderr,
			"test_transport_smtp: %s not found "
			"(set HERALD_SRC)\n",
			g_script);
		return 1;
	}
	if (spawn_mkdtemp(g_tmp, sizeof(g_tmp), "smtp") != 0) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(g_certs, sizeof(g_certs), "%s/certs", g_tmp);
	certs_argv[0] = "/bin/sh";
	certs_argv[1] = script;
	certs_argv[2] = g_certs;
	certs_argv[3] = NULL;
	if (spawn_run(certs_argv, 0) != 0) {
		fprintf(stderr, "test_transport_smtp: make_certs.sh failed\n");
		spawn_rmtree(g_tmp);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_check_config, teardown),
	    cmocka_unit_test_teardown(test_bad_messages, teardown),
	    cmocka_unit_test_teardown(test_exact_bytes, teardown),
	    cmocka_unit_test_teardown(test_reuse, teardown),
	    cmocka_unit_test_teardown(test_max_per_connection, teardown),
	    cmocka_unit_test_teardown(test_starttls_auth_plain, teardown),
	    cmocka_unit_test_teardown(test_starttls_auth_login, teardown),
	    cmocka_unit_test_teardown(test_smtps, teardown),
	    cmocka_unit_test_teardown(test_wrong_password, teardown),
	    cmocka_unit_test_teardown(test_redaction, teardown),
	    cmocka_unit_test_teardown(test_plaintext_refused, teardown),
	    cmocka_unit_test_teardown(test_untrusted_cert, teardown),
	    cmocka_unit_test_teardown(test_rcpt_rejected, teardown),
	    cmocka_unit_test_teardown(test_451_transient, teardown),
	    cmocka_unit_test_teardown(test_421_slow_down, teardown),
	    cmocka_unit_test_teardown(test_47x_slow_down, teardown),
	    cmocka_unit_test_teardown(test_421_before_body, teardown),
	    cmocka_unit_test_teardown(test_close_after, teardown),
	    cmocka_unit_test_teardown(test_drop_reconnect, teardown),
	    cmocka_unit_test_teardown(test_connection_refused, teardown),
	    cmocka_unit_test_teardown(test_timeout, teardown),
	    cmocka_unit_test_teardown(test_workers, teardown),
	};
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	spawn_rmtree(g_tmp);
	return rc;
}
