/*
 * test_transport_http.c — hd_transport_http against a real local server.
 *
 * Starts tests/servers/http_server.py three times on 127.0.0.1 (plain HTTP,
 * HTTPS with a certificate from a throw-away CA, HTTPS with a self-signed
 * certificate nobody trusts), builds hd_message values by hand and drives
 * the transport directly.  What the server received is read back from its
 * JSON log and its stats file.  Without /usr/bin/python3 or openssl the
 * program says SKIPPED and exits 77.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "escape.h"
#include "transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PYTHON "/usr/bin/python3"

struct server {
	pid_t pid;
	int port;
	char log[512];
	char stats[512];
};

static char root[1024];			   /* project folder */
static char dir[] = "/tmp/hd_http_XXXXXX"; /* certificates, logs */
static char ca[600];
static struct server plain, tls, untrusted;

/* ---- server control ---------------------------------------------------- */

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Runs argv (no shell); returns its exit status or -1. */
static int run(char *const argv[])
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Starts http_server.py as name, with TLS when cert is given; 0 on
 * success once it listens. */
static int server_start(struct server *s, const char *name, const char *cert,
			const char *key)
{
	char script[1200], port_file[600];
	char *argv[16];
	int n = 0;

	snprintf(script, sizeof(script), "%s/tests/servers/http_server.py",
		 root);
	snprintf(port_file, sizeof(port_file), "%s/%s.port", dir, name);
	snprintf(s->log, sizeof(s->log), "%s/%s.log", dir, name);
	snprintf(s->stats, sizeof(s->stats), "%s/%s.stats", dir, name);
	argv[n++] = (char *)PYTHON;
	argv[n++] = script;
	argv[n++] = (char *)"--port-file";
	argv[n++] = port_file;
	argv[n++] = (char *)"--log";
	argv[n++] = s->log;
	argv[n++] = (char *)"--stats";
	argv[n++] = s->stats;
	if (cert) {
		argv[n++] = (char *)"--tls-cert";
		argv[n++] = (char *)cert;
		argv[n++] = (char *)"--tls-key";
		argv[n++] = (char *)key;
	}
	argv[n] = NULL;

	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		execv(PYTHON, argv);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) { /* 10 s */
		FILE *f = fopen(port_file, "r");
		if (f) {
			int ok = fscanf(f, "%d", &s->port) == 1;
			fclose(f);
			if (ok)
				return 0;
		}
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = 0;
			return -1;
		}
		sleep_ms(10);
	}
	return -1;
}

/* SIGTERM, then SIGKILL if it has not gone within 5 s. */
static void server_stop(struct server *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGTERM);
	for (int i = 0; i < 500; i++) {
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = 0;
			return;
		}
		sleep_ms(10);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
}

static json_t *read_stats(const struct server *s)
{
	json_t *j = json_load_file(s->stats, 0, NULL);
	if (!j)
		j = json_pack("{s:i,s:i,s:{}}", "connections", 0, "requests", 0,
			      "ok_by_key");
	return j;
}

static long stat_of(const struct server *s, const char *name)
{
	json_t *j = read_stats(s);
	long v = (long)json_integer_value(json_object_get(j, name));
	json_decref(j);
	return v;
}

/* The log entries whose path contains tag, in arrival order. */
static json_t *log_find(const struct server *s, const char *tag)
{
	json_t *all = json_array();
	FILE *f = fopen(s->log, "r");
	char line[65536];

	while (f && fgets(line, sizeof(line), f)) {
		json_t *e = json_loads(line, 0, NULL);
		const char *path =
		    json_string_value(json_object_get(e, "path"));
		if (path && strstr(path, tag))
			json_array_append(all, e);
		json_decref(e);
	}
	if (f)
		fclose(f);
	return all;
}

/* ---- building and sending messages ------------------------------------- */

static hd_transport_config config(void)
{
	hd_transport_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.timeout_ms = 5000;
	return cfg;
}

static void *open_conn(const hd_transport_config *cfg)
{
	void *conn = NULL;
	hd_error err;

	assert_int_equal(hd_transport_http.open(cfg, 0, &conn, &err), HD_OK);
	assert_non_null(conn);
	return conn;
}

static hd_message request(const char *method, const char *url,
			  hd_header *headers, size_t nheaders, const char *body,
			  size_t len)
{
	hd_message m;
	memset(&m, 0, sizeof(m));
	m.kind = HD_MSG_HTTP;
	m.http.method = (char *)method;
	m.http.url = (char *)url;
	m.http.headers = headers;
	m.http.nheaders = nheaders;
	m.http.body = (char *)body;
	m.http.body_len = len;
	return m;
}

static char *url_of(const struct server *s, const char *scheme,
		    const char *path)
{
	static _Thread_local char buf[4][512];
	static _Thread_local int next;
	char *u = buf[next++ % 4];
	snprintf(u, sizeof(buf[0]), "%s://127.0.0.1:%d%s", scheme, s->port,
		 path);
	return u;
}

/* GET (or method) path on the plain server, no headers, no body. */
static void send_path(void *conn, const char *method, const char *path,
		      hd_send_result *res)
{
	hd_message m =
	    request(method, url_of(&plain, "http", path), NULL, 0, NULL, 0);
	hd_transport_http.send(conn, &m, 1, res);
}

/* Text safe to print: valid UTF-8 without control bytes. */
static void assert_printable(const char *s)
{
	assert_true(hd_utf8_valid(s, strlen(s), NULL));
	for (; *s; s++)
		assert_true((unsigned char)*s >= 0x20 && *s != 0x7f);
}

/* ---- tests ------------------------------------------------------------- */

static void test_check(void **state)
{
	hd_transport_config cfg = config();
	hd_error err;

	(void)state;
	assert_string_equal(hd_transport_http.name, "http");
	assert_int_equal(hd_transport_http.check(NULL, &err), HD_EINVAL);
	assert_int_equal(hd_transport_http.check(&cfg, &err), HD_OK);
	cfg.cacert = ca;
	assert_int_equal(hd_transport_http.check(&cfg, &err), HD_OK);
	cfg.cacert = "/nonexistent/ca.pem";
	assert_int_equal(hd_transport_http.check(&cfg, &err), HD_ECONFIG);
	assert_string_equal(err.file, "/nonexistent/ca.pem");
	assert_string_equal(err.msg, "CA bundle is missing or unreadable");
	cfg.cacert = "";
	assert_int_equal(hd_transport_http.check(&cfg, &err), HD_ECONFIG);
	cfg = config();
	cfg.timeout_ms = -1;
	assert_int_equal(hd_transport_http.check(&cfg, &err), HD_ECONFIG);
	cfg = config();
	cfg.max_per_connection = -5;
	assert_int_equal(hd_transport_http.check(&cfg, &err), HD_ECONFIG);
	assert_string_equal(err.msg, "negative --max-per-connection: -5");
	hd_transport_http.close(NULL);
}

static void test_bad_messages(void **state)
{
	hd_transport_config cfg = config();
	void *conn = open_conn(&cfg);
	hd_send_result res;
	hd_header crlf = {(char *)"X-Note", (char *)"a\r\nX-Injected: 1"};
	hd_header badname = {(char *)"X Note", (char *)"a"};
	hd_message m;
	long before = stat_of(&plain, "requests");

	(void)state;
	m = request("POST", url_of(&plain, "http", "/ok"), &crlf, 1, "x", 1);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_string_equal(res.error, "malformed or too long header value");
	assert_int_equal(res.fatal, 0);

	m.http.headers = &badname;
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_string_equal(res.error, "malformed header name");

	m = request("PO ST", url_of(&plain, "http", "/ok"), NULL, 0, NULL, 0);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_string_equal(res.error, "missing or malformed method");

	m = request("POST", NULL, NULL, 0, NULL, 0);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_string_equal(res.error, "no URL");

	m = request("GET", "http://127.0.0.1/a\r\nX-Injected: 1", NULL, 0, NULL,
		    0);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_string_equal(res.error, "control character in URL");

	m = request("POST", url_of(&plain, "http", "/ok"), NULL, 0, NULL, 5);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_string_equal(res.error, "body length without a body");

	m = request("POST", url_of(&plain, "http", "/ok"), NULL, 0, NULL, 0);
	m.kind = HD_MSG_EMAIL;
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_string_equal(res.error, "not an HTTP message");
	assert_true(res.retry_after < 0);

	hd_transport_http.send(NULL, &m, 1, &res);
	assert_int_equal(res.status, HD_EPERMANENT);

	/* Refused by libcurl: permanent for this row, not fatal. */
	m = request("GET", "ftp://127.0.0.1/x", NULL, 0, NULL, 0);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_int_equal(res.fatal, 0);
	assert_string_equal(res.error, "URL is not http:// or https://");
	m = request("GET", "http://[::1/x", NULL, 0, NULL, 0);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_non_null(strstr(res.error, "malformed URL"));

	assert_int_equal(stat_of(&plain, "requests"), before);
	hd_transport_http.close(conn);
}

/* Asserts that entry's headers are exactly want (name, value pairs). */
static void assert_headers(json_t *entry, const char *const *want, size_t n)
{
	json_t *h = json_object_get(entry, "headers");

	for (size_t i = 0; i < n && i < json_array_size(h); i++) {
		json_t *pair = json_array_get(h, i);
		assert_string_equal(json_string_value(json_array_get(pair, 0)),
				    want[2 * i]);
		assert_string_equal(json_string_value(json_array_get(pair, 1)),
				    want[2 * i + 1]);
	}
	assert_int_equal(json_array_size(h), n);
}

static void test_exact_request(void **state)
{
	static const char body[] = "{\"a\":\"\xc3\xa9\"}\r\n\0\x01\xff end";
	static const char body_b64[] = "eyJhIjoiw6kifQ0KAAH/IGVuZA==";
	hd_header headers[] = {
	    {(char *)"Content-Type", (char *)"application/json"},
	    {(char *)"Authorization", (char *)"Bearer tok-123456"},
	    {(char *)"X-Empty", (char *)""},
	    {(char *)"X-Spaces", (char *)"a  b\t c"},
	    {(char *)"X-Utf8", (char *)"caf\xc3\xa9"},
	    {(char *)"Content-Length", (char *)"999"},
	    {(char *)"Idempotency-Key", (char *)"k-exact-1"},
	};
	hd_transport_config cfg = config();
	void *conn = open_conn(&cfg);
	char host[64], len[16];
	hd_send_result res;
	hd_message m;
	json_t *log;

	(void)state;
	snprintf(host, sizeof(host), "127.0.0.1:%d", plain.port);
	snprintf(len, sizeof(len), "%zu", sizeof(body) - 1);
	m = request("POST", url_of(&plain, "http", "/ok?t=exact&x=%20y"),
		    headers, 7, body, sizeof(body) - 1);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_OK);
	assert_int_equal(res.code, 200);
	assert_string_equal(res.response, "{\"ok\":true}");
	assert_string_equal(res.error, "");
	assert_true(res.retry_after < 0);
	assert_int_equal(res.slow_down, 0);
	assert_int_equal(res.reconnect, 0);
	assert_int_equal(res.fatal, 0);

	log = log_find(&plain, "t=exact");
	assert_int_equal(json_array_size(log), 1);
	{
		json_t *e = json_array_get(log, 0);
		/* clang-format off */
		const char *const want[] = {
			"Host", host,
			"User-Agent", "herald/" HD_VERSION,
			"Content-Type", "application/json",
			"Authorization", "Bearer tok-123456",
			"X-Empty", "",
			"X-Spaces", "a  b\t c",
			"X-Utf8", "caf\xc3\xa9",
			"Idempotency-Key", "k-exact-1",
			"Content-Length", len,
		};
		/* clang-format on */
		assert_string_equal(
		    json_string_value(json_object_get(e, "method")), "POST");
		assert_string_equal(
		    json_string_value(json_object_get(e, "path")),
		    "/ok?t=exact&x=%20y");
		assert_string_equal(
		    json_string_value(json_object_get(e, "body")), body_b64);
		assert_headers(e, want, sizeof(want) / sizeof(*want) / 2);
	}
	json_decref(log);

	/* Other methods: body with PUT, none with GET, DELETE, HEAD; no
	 * Content-Type appears unless the template gives one. */
	m = request("PUT", url_of(&plain, "http", "/ok?t=put"), NULL, 0, "abc",
		    3);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_OK);
	m = request("POST", url_of(&plain, "http", "/ok?t=emptypost"), NULL, 0,
		    NULL, 0);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_OK);
	send_path(conn, "GET", "/ok?t=get", &res);
	assert_int_equal(res.status, HD_OK);
	send_path(conn, "DELETE", "/ok?t=delete", &res);
	assert_int_equal(res.status, HD_OK);
	send_path(conn, "HEAD", "/ok?t=head", &res);
	assert_int_equal(res.status, HD_OK);
	assert_string_equal(res.response, "");
	{
		static const struct {
			const char *tag, *method, *body_b64, *len;
		} want[] = {
		    {"t=put", "PUT", "YWJj", "3"},
		    {"t=emptypost", "POST", "", "0"},
		    {"t=get", "GET", "", NULL},
		    {"t=delete", "DELETE", "", NULL},
		    {"t=head", "HEAD", "", NULL},
		};
		for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
			const char *const h2[] = {
			    "Host",	      host,
			    "User-Agent",     "herald/" HD_VERSION,
			    "Content-Length", want[i].len,
			};
			json_t *e;
			log = log_find(&plain, want[i].tag);
			assert_int_equal(json_array_size(log), 1);
			e = json_array_get(log, 0);
			assert_string_equal(
			    json_string_value(json_object_get(e, "method")),
			    want[i].method);
			assert_string_equal(
			    json_string_value(json_object_get(e, "body")),
			    want[i].body_b64);
			assert_headers(e, h2, want[i].len ? 3 : 2);
			json_decref(log);
		}
	}
	hd_transport_http.close(conn);
}

/* The header called name in a log entry, or NULL. */
static const char *header_of(json_t *entry, const char *name)
{
	json_t *h = json_object_get(entry, "headers");

	for (size_t i = 0; i < json_array_size(h); i++) {
		json_t *pair = json_array_get(h, i);
		if (!strcasecmp(json_string_value(json_array_get(pair, 0)),
				name))
			return json_string_value(json_array_get(pair, 1));
	}
	return NULL;
}

/* The one entry of tag: its method, body (base64) and one header. */
static void assert_logged(const char *tag, const char *method,
			  const char *body_b64, const char *name,
			  const char *value)
{
	json_t *log = log_find(&plain, tag);
	json_t *e = json_array_get(log, 0);

	assert_int_equal(json_array_size(log), 1);
	assert_string_equal(json_string_value(json_object_get(e, "method")),
			    method);
	assert_string_equal(json_string_value(json_object_get(e, "body")),
			    body_b64);
	if (value)
		assert_string_equal(header_of(e, name), value);
	else
		assert_null(header_of(e, name));
	json_decref(log);
}

/* Sends one request on conn; returns its status. */
static hd_status send_one(void *conn, const char *method, const char *path,
			  hd_header *headers, size_t n, const char *body,
			  size_t len, hd_send_result *res)
{
	hd_message m = request(method, url_of(&plain, "http", path), headers, n,
			       body, len);

	hd_transport_http.send(conn, &m, 1, res);
	return res->status;
}

/* One handle keeps its options and header list from request to request
 * while they stay the same: what changes must still reach the server,
 * and the secrets redacted are the current request's. */
static void test_one_handle_many_requests(void **state)
{
	hd_header a[] = {
	    {(char *)"Authorization", (char *)"Bearer aaaa-1111"},
	    {(char *)"X-N", (char *)"1"},
	};
	hd_header b[2];
	hd_transport_config cfg = config();
	void *conn = open_conn(&cfg);
	hd_send_result res;

	(void)state;
	/* the same headers, another body */
	assert_int_equal(
	    send_one(conn, "POST", "/ok?t=seq1", a, 2, "one", 3, &res), HD_OK);
	assert_int_equal(
	    send_one(conn, "POST", "/ok?t=seq2", a, 2, "second body", 11, &res),
	    HD_OK);
	assert_logged("t=seq1", "POST", "b25l", "X-N", "1");
	assert_logged("t=seq2", "POST", "c2Vjb25kIGJvZHk=", "Authorization",
		      "Bearer aaaa-1111");
	/* other values, an empty body */
	b[0].name = strdup("Authorization");
	b[0].value = strdup("Bearer bbbb-2222");
	b[1].name = strdup("X-N");
	b[1].value = strdup("2");
	assert_int_equal(
	    send_one(conn, "POST", "/ok?t=seq3", b, 2, NULL, 0, &res), HD_OK);
	assert_logged("t=seq3", "POST", "", "Authorization",
		      "Bearer bbbb-2222");
	/* equal headers in new memory (the last request's is gone): the
	 * reply echoes them, and the credential is redacted from it */
	for (int i = 0; i < 2; i++) {
		char *name = strdup(b[i].name), *value = strdup(b[i].value);
		free(b[i].name);
		free(b[i].value);
		b[i].name = name;
		b[i].value = value;
	}
	assert_int_equal(send_one(conn, "POST", "/echo?code=422&t=seq4", b, 2,
				  "bbbb-2222", 9, &res),
			 HD_EPERMANENT);
	assert_null(strstr(res.response, "bbbb"));
	assert_non_null(strstr(res.response, "Authorization: ***"));
	for (int i = 0; i < 2; i++) {
		free(b[i].name);
		free(b[i].value);
	}
	/* a PUT with a body, then one without; then no headers at all */
	assert_int_equal(
	    send_one(conn, "PUT", "/ok?t=seq5", a, 2, "abc", 3, &res), HD_OK);
	assert_int_equal(
	    send_one(conn, "PUT", "/ok?t=seq6", a, 2, NULL, 0, &res), HD_OK);
	assert_int_equal(
	    send_one(conn, "POST", "/ok?t=seq7", NULL, 0, "x", 1, &res), HD_OK);
	assert_int_equal(
	    send_one(conn, "POST", "/ok?t=seq8", a, 1, "y", 1, &res), HD_OK);
	assert_logged("t=seq5", "PUT", "YWJj", "Content-Length", "3");
	assert_logged("t=seq6", "PUT", "", "Content-Length", NULL);
	assert_logged("t=seq7", "POST", "eA==", "Authorization", NULL);
	assert_logged("t=seq8", "POST", "eQ==", "X-N", NULL);
	assert_logged("t=seq8", "POST", "eQ==", "Authorization",
		      "Bearer aaaa-1111");
	/* a header that is not allowed is refused while others are kept */
	b[0].name = (char *)"Bad Name";
	b[0].value = (char *)"v";
	assert_int_equal(
	    send_one(conn, "POST", "/ok?t=seq9", b, 1, "z", 1, &res),
	    HD_EPERMANENT);
	assert_int_equal(
	    send_one(conn, "POST", "/ok?t=seq10", a, 2, "w", 1, &res), HD_OK);
	assert_logged("t=seq10", "POST", "dw==", "X-N", "1");
	/* as many headers, other names: the credential is now the second
	 * (which headers hold one is known again, not kept) */
	b[0].name = (char *)"X-N";
	b[0].value = (char *)"3";
	b[1].name = (char *)"X-Api-Key";
	b[1].value = (char *)"kkkk-3333";
	assert_int_equal(send_one(conn, "POST", "/echo?code=422&t=seq11", b, 2,
				  "kkkk-3333", 9, &res),
			 HD_EPERMANENT);
	assert_null(strstr(res.response, "kkkk"));
	hd_transport_http.close(conn);
}

/* Sends n GETs of path on one handle; returns new connections seen. */
static long connections_for(const hd_transport_config *cfg, const char *path,
			    int n)
{
	void *conn = open_conn(cfg);
	long before = stat_of(&plain, "connections");
	hd_send_result res;

	for (int i = 0; i < n; i++) {
		send_path(conn, "GET", path, &res);
		assert_int_equal(res.status, HD_OK);
	}
	hd_transport_http.close(conn);
	return stat_of(&plain, "connections") - before;
}

static void test_reuse(void **state)
{
	hd_transport_config cfg = config();
	json_t *log;
	json_int_t first;

	(void)state;
	assert_int_equal(connections_for(&cfg, "/ok?t=reuse50", 50), 1);
	log = log_find(&plain, "t=reuse50");
	assert_int_equal(json_array_size(log), 50);
	first =
	    json_integer_value(json_object_get(json_array_get(log, 0), "conn"));
	for (size_t i = 0; i < 50; i++)
		assert_int_equal(json_integer_value(json_object_get(
				     json_array_get(log, i), "conn")),
				 first);
	json_decref(log);
}

static void test_max_per_connection(void **state)
{
	hd_transport_config cfg = config();
	json_t *log;

	(void)state;
	cfg.max_per_connection = 10;
	assert_int_equal(connections_for(&cfg, "/ok?t=max10", 50), 5);
	/* exactly 10 on each: requests 1-10 on one, 11-20 on the next... */
	log = log_find(&plain, "t=max10");
	assert_int_equal(json_array_size(log), 50);
	for (size_t i = 0; i < 50; i++)
		assert_int_equal(
		    json_integer_value(
			json_object_get(json_array_get(log, i), "conn")),
		    json_integer_value(json_object_get(
			json_array_get(log, i / 10 * 10), "conn")));
	json_decref(log);
	cfg.max_per_connection = 1;
	assert_int_equal(connections_for(&cfg, "/ok?t=max1", 4), 4);
}

static void test_retry_after(void **state)
{
	static const struct {
		const char *path;
		double lo, hi; /* retry_after expected in [lo, hi] */
	} cases[] = {
	    {"/429?after=2", 2, 2},
	    {"/429?after=0", 0, 0},
	    {"/429", -1, -1},
	    {"/429?after=soon", -1, -1},
	    {"/429?after=120abc", -1, -1},
	    {"/429?after=99999999999999999999999", 3600, 3600},
	    {"/429?after=7200", 3600, 3600},
	    {"/429date", 1, 3},
	    {"/429?after=Sun%2C%2006%20Nov%201994%2008%3A49%3A37%20GMT", 0, 0},
	    {"/429?after=Sunday%2C%2006-Nov-94%2008%3A49%3A37%20GMT", 0, 0},
	};
	hd_transport_config cfg = config();
	void *conn = open_conn(&cfg);
	hd_send_result res;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		send_path(conn, "GET", cases[i].path, &res);
		assert_int_equal(res.status, HD_ETRANSIENT);
		assert_int_equal(res.code, 429);
		assert_int_equal(res.slow_down, 1);
		assert_int_equal(res.fatal, 0);
		assert_string_equal(res.error, "HTTP 429 Too Many Requests");
		assert_string_equal(res.response, "{\"error\":\"slow down\"}");
		if (res.retry_after < cases[i].lo ||
		    res.retry_after > cases[i].hi)
			fail_msg("%s: retry_after %g, want [%g, %g]",
				 cases[i].path, res.retry_after, cases[i].lo,
				 cases[i].hi);
	}

	/* A 503 without Retry-After: transient, nobody asked to slow down. */
	send_path(conn, "GET", "/status/503", &res);
	assert_int_equal(res.status, HD_ETRANSIENT);
	assert_int_equal(res.code, 503);
	assert_int_equal(res.slow_down, 0);
	assert_true(res.retry_after == -1);
	assert_string_equal(res.error, "HTTP 503 Service Unavailable");

	/* a 503 with Retry-After asks everyone to slow down */
	send_path(conn, "GET", "/status/503?after=5", &res);
	assert_int_equal(res.status, HD_ETRANSIENT);
	assert_int_equal(res.slow_down, 1);
	assert_true(res.retry_after == 5);
	hd_transport_http.close(conn);
}

static void test_status_table(void **state)
{
	/* clang-format off */
	static const struct {
		long code;
		hd_status status;
	} cases[] = {
		{200, HD_OK},         {201, HD_OK},         {202, HD_OK},
		{204, HD_OK},         {299, HD_OK},         {301, HD_EPERMANENT},
		{302, HD_EPERMANENT}, {307, HD_EPERMANENT}, {400, HD_EPERMANENT},
		{401, HD_EPERMANENT}, {403, HD_EPERMANENT}, {404, HD_EPERMANENT},
		{407, HD_EPERMANENT},
		{405, HD_EPERMANENT}, {408, HD_ETRANSIENT}, {409, HD_EPERMANENT},
		{410, HD_EPERMANENT}, {413, HD_EPERMANENT}, {422, HD_EPERMANENT},
		{425, HD_ETRANSIENT}, {429, HD_ETRANSIENT}, {451, HD_EPERMANENT},
		{500, HD_ETRANSIENT}, {501, HD_ETRANSIENT}, {502, HD_ETRANSIENT},
		{503, HD_ETRANSIENT}, {504, HD_ETRANSIENT}, {599, HD_ETRANSIENT},
	};
	/* clang-format on */
	hd_transport_config cfg = config();
	void *conn = open_conn(&cfg);
	hd_send_result res;
	char path[64];
	json_t *log;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		snprintf(path, sizeof(path), "/status/%ld", cases[i].code);
		send_path(conn, "POST", path, &res);
		if (res.status != cases[i].status || res.code != cases[i].code)
			fail_msg("HTTP %ld: status %d code %ld error %s",
				 cases[i].code, (int)res.status, res.code,
				 res.error);
		/* refused credentials stop the run */
		assert_int_equal(res.fatal,
				 cases[i].code == 401 || cases[i].code == 407);
		assert_int_equal(res.reconnect, 0);
		if (cases[i].status == HD_OK)
			assert_string_equal(res.error, "");
		else
			assert_memory_equal(res.error, "HTTP ", 5);
	}
	send_path(conn, "GET", "/status/404", &res);
	assert_string_equal(res.error, "HTTP 404 Not Found");
	assert_string_equal(res.response, "{\"status\":404}");
	send_path(conn, "GET", "/status/401", &res);
	assert_string_equal(
	    res.error, "HTTP 401 Unauthorized: the credentials were refused");
	/* The 3xx carried a Location: it was not followed. */
	log = log_find(&plain, "redirect-followed");
	assert_int_equal(json_array_size(log), 0);
	json_decref(log);
	hd_transport_http.close(conn);
}

static void test_drop(void **state)
{
	hd_transport_config cfg = config();
	void *conn = open_conn(&cfg);
	hd_send_result res;
	hd_message m;

	(void)state;
	/* the server said 200 before the reply body broke off: it took
	 * the request, so it is sent (sending it again would duplicate) */
	send_path(conn, "POST", "/drop", &res);
	assert_int_equal(res.status, HD_OK);
	assert_int_equal(res.code, 200);
	assert_int_equal(res.fatal, 0);
	assert_int_equal(res.uncertain, 0);
	assert_string_equal(res.response, "0123456789");
	assert_string_equal(res.error, "");
	/* the handle recovers on a fresh connection */
	send_path(conn, "GET", "/ok", &res);
	assert_int_equal(res.status, HD_OK);

	/* not HTTP at all (an SMTP greeting) */
	send_path(conn, "POST", "/garbage", &res);
	assert_int_equal(res.status, HD_ETRANSIENT);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.fatal, 0);
	assert_string_equal(res.error, "malformed reply: Received HTTP/0.9 "
				       "when not allowed");

	/* an upper-case scheme is still http */
	m = request("GET", url_of(&plain, "HTTP", "/ok"), NULL, 0, NULL, 0);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_OK);
	hd_transport_http.close(conn);
}

static void test_timeout(void **state)
{
	hd_transport_config cfg = config();
	void *conn;
	hd_send_result res;
	double t0, ms;

	(void)state;
	cfg.timeout_ms = 400;
	conn = open_conn(&cfg);
	t0 = now_ms();
	send_path(conn, "POST", "/slow?ms=3000", &res);
	ms = now_ms() - t0;
	/* the request had gone out whole: it may have been acted on */
	assert_int_equal(res.status, HD_ETRANSIENT);
	assert_int_equal(res.uncertain, 1);
	assert_int_equal(res.code, 0);
	assert_string_equal(res.error, "sent, no reply within 0.4 s");
	if (ms < 390 || ms > 700)
		fail_msg("the 400 ms timeout took %.0f ms", ms);
	hd_transport_http.close(conn);
}

static void test_refused(void **state)
{
	hd_transport_config cfg = config();
	void *conn = open_conn(&cfg);
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char url[64];
	hd_send_result res;
	hd_message m;

	(void)state;
	/* a port that was free a moment ago and has no listener */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok",
		 ntohs(sa.sin_port));
	m = request("POST", url, NULL, 0, "x", 1);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_ETRANSIENT);
	assert_int_equal(res.code, 0);
	assert_int_equal(res.fatal, 0);
	assert_int_equal(res.reconnect, 0);
	assert_memory_equal(res.error, "cannot connect: ", 16);
	hd_transport_http.close(conn);
}

static void test_tls(void **state)
{
	hd_transport_config cfg = config();
	void *conn;
	hd_send_result res;
	hd_message m;
	long before = stat_of(&tls, "connections");

	(void)state;
	/* trusted through the test CA; the connection is reused */
	cfg.cacert = ca;
	conn = open_conn(&cfg);
	for (int i = 0; i < 5; i++) {
		m = request("POST", url_of(&tls, "https", "/ok?t=tls"), NULL, 0,
			    "{}", 2);
		hd_transport_http.send(conn, &m, 1, &res);
		assert_int_equal(res.status, HD_OK);
		assert_int_equal(res.code, 200);
		assert_string_equal(res.response, "{\"ok\":true}");
	}
	assert_int_equal(stat_of(&tls, "connections") - before, 1);

	/* a self-signed certificate: fatal for the whole run */
	m = request("POST", url_of(&untrusted, "https", "/ok"), NULL, 0, "{}",
		    2);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_int_equal(res.fatal, 1);
	assert_int_equal(res.code, 0);
	assert_memory_equal(res.error,
			    "TLS certificate of 127.0.0.1 not trusted: ", 42);
	hd_transport_http.close(conn);

	/* the system's CAs do not know the test CA */
	cfg.cacert = NULL;
	conn = open_conn(&cfg);
	m = request("GET", url_of(&tls, "https", "/ok"), NULL, 0, NULL, 0);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.fatal, 1);
	assert_memory_equal(res.error,
			    "TLS certificate of 127.0.0.1 not trusted: ", 42);
	hd_transport_http.close(conn);

	/* --insecure */
	cfg.insecure = 1;
	conn = open_conn(&cfg);
	m = request("GET", url_of(&untrusted, "https", "/ok"), NULL, 0, NULL,
		    0);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_OK);
	hd_transport_http.close(conn);

	/* a CA file that holds no certificate */
	cfg.insecure = 0;
	cfg.cacert = plain.log;
	conn = open_conn(&cfg);
	m = request("GET", url_of(&tls, "https", "/ok"), NULL, 0, NULL, 0);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_int_equal(res.fatal, 1);
	assert_memory_equal(res.error, "cannot load the CA certificates: ", 33);
	hd_transport_http.close(conn);
}

static void test_no_credentials(void **state)
{
	static const char body[] = "token s3cr3t-value-XYZ and key k3y-abcdef";
	hd_header headers[] = {
	    {(char *)"Authorization", (char *)"Bearer s3cr3t-value-XYZ"},
	    {(char *)"X-Api-Key", (char *)"k3y-abcdef"},
	};
	hd_transport_config cfg = config();
	void *conn = open_conn(&cfg);
	hd_send_result res;
	hd_message m;
	char url[128];

	(void)state;
	m = request("POST", url_of(&plain, "http", "/echo?code=401"), headers,
		    2, body, sizeof(body) - 1);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_EPERMANENT);
	assert_int_equal(res.fatal, 1);
	assert_string_equal(
	    res.error, "HTTP 401 Unauthorized: the credentials were refused");
	assert_null(strstr(res.response, "s3cr3t"));
	assert_null(strstr(res.response, "k3y-abc"));
	/* the body echoed first, then the headers */
	assert_memory_equal(res.response, "token *** and key *** Host: ", 27);
	assert_non_null(strstr(res.response, "Authorization: ***"));
	assert_non_null(strstr(res.response, "X-Api-Key: ***"));

	/* user:password in the URL: libcurl sends Basic auth; neither the
	 * password nor its base64 form comes back. */
	snprintf(url, sizeof(url), "http://ann:hunter2%%21x@127.0.0.1:%d/echo",
		 plain.port);
	m = request("POST", url, NULL, 0, "pw hunter2!x", 12);
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_OK);
	assert_null(strstr(res.response, "hunter2"));
	assert_null(strstr(res.response, "YW5uOmh1bnRlcjIheA=="));
	assert_non_null(strstr(res.response, "Authorization: Basic ***"));
	assert_memory_equal(res.response, "pw *** Host", 11);
	/* the password URL again on this connection: still a secret */
	hd_transport_http.send(conn, &m, 1, &res);
	assert_int_equal(res.status, HD_OK);
	assert_null(strstr(res.response, "hunter2"));
	assert_null(strstr(res.response, "YW5uOmh1bnRlcjIheA=="));
	assert_memory_equal(res.response, "pw *** Host", 11);
	/* another URL (the TLS server, its certificate not trusted here),
	 * then the first again: each request's own place */
	{
		char want[64];

		send_path(conn, "GET", "/ok", &res);
		m = request("GET", url_of(&tls, "https", "/ok"), NULL, 0, NULL,
			    0);
		hd_transport_http.send(conn, &m, 1, &res);
		snprintf(want, sizeof(want), "127.0.0.1:%d", tls.port);
		assert_string_equal(res.dest, want);
		send_path(conn, "GET", "/ok", &res);
		assert_int_equal(res.status, HD_OK);
		snprintf(want, sizeof(want), "127.0.0.1:%d", plain.port);
		assert_string_equal(res.dest, want);
	}
	hd_transport_http.close(conn);
}

static void test_snippet(void **state)
{
	hd_transport_config cfg = config();
	void *conn = open_conn(&cfg);
	hd_send_result res;
	size_t n;

	(void)state;
	send_path(conn, "GET", "/big?n=5000", &res);
	assert_int_equal(res.status, HD_OK);
	n = strlen(res.response);
	assert_true(n <= 203 && n > 150);
	assert_string_equal(res.response + n - 3, "...");
	assert_printable(res.response);
	assert_null(strstr(res.response, "  "));
	/* "text \0\1\xff\xfe\r\n\t" "é " -> "text ???? é text ...": bytes
	 * that are not UTF-8 become '?', UTF-8 stays (the report is UTF-8) */
	assert_memory_equal(res.response,
			    "text ???? \xc3\xa9 text ???? \xc3\xa9 text", 30);
	hd_transport_http.close(conn);
}

static void test_flaky(void **state)
{
	hd_header key = {(char *)"Idempotency-Key", (char *)"k-flaky-1"};
	hd_transport_config cfg = config();
	void *conn = open_conn(&cfg);
	hd_send_result res;
	hd_message m;
	json_t *stats;
	static const long want[] = {503, 503, 200};

	(void)state;
	m = request("POST", url_of(&plain, "http", "/flaky?fail=2&code=503"),
		    &key, 1, "{}", 2);
	for (size_t i = 0; i < 3; i++) {
		hd_transport_http.send(conn, &m, 1, &res);
		assert_int_equal(res.code, want[i]);
		assert_int_equal(res.status,
				 want[i] == 200 ? HD_OK : HD_ETRANSIENT);
	}
	stats = read_stats(&plain);
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(stats, "ok_by_key"), "k-flaky-1")),
			 1);
	json_decref(stats);
	hd_transport_http.close(conn);
}

/*
 * A kept connection that the server closes after reading the request,
 * without a reply: libcurl resends the request by itself on a fresh
 * connection (NOTES-libcurl.md), so the server sees it twice, same body,
 * same key.  Seven rounds on one handle: libcurl 7.88.1 would fail the
 * sixth with "tried 5 times before giving up" (no resend) if send() did
 * not reset the handle before every request.
 */
static void test_silent_resend(void **state)
{
	hd_header key = {(char *)"Idempotency-Key", (char *)"k-resend"};
	hd_transport_config cfg = config();
	void *conn = open_conn(&cfg);
	hd_send_result res;
	hd_message m;
	char tag[32], path[64];

	(void)state;
	for (int round = 0; round < 7; round++) {
		json_t *log;
		snprintf(tag, sizeof(tag), "t=resend%d", round);
		snprintf(path, sizeof(path), "/ok?%s-warm", tag);
		send_path(conn, "GET", path, &res);
		assert_int_equal(res.status, HD_OK);

		snprintf(path, sizeof(path), "/drop-before?%s", tag);
		m = request("POST", url_of(&plain, "http", path), &key, 1,
			    "{\"n\":1}", 7);
		hd_transport_http.send(conn, &m, 1, &res);
		assert_int_equal(res.status, HD_ETRANSIENT);
		assert_int_equal(res.code, 0);
		assert_int_equal(res.reconnect, 0); /* the resend was fresh */
		/* libcurl's own resend went out whole too: uncertain */
		assert_int_equal(res.uncertain, 1);
		assert_memory_equal(res.error,
				    "sent, the connection was lost before the "
				    "reply",
				    46);

		log = log_find(&plain, path);
		assert_int_equal(json_array_size(log), 2);
		assert_string_equal(json_string_value(json_object_get(
					json_array_get(log, 1), "body")),
				    "eyJuIjoxfQ==");
		assert_true(json_integer_value(json_object_get(
				json_array_get(log, 0), "conn")) !=
			    json_integer_value(json_object_get(
				json_array_get(log, 1), "conn")));
		json_decref(log);
	}
	hd_transport_http.close(conn);
}

/* A server that closes politely after its reply: noticed before reuse,
 * nothing is sent twice. */
static void test_polite_close(void **state)
{
	hd_transport_config cfg = config();
	void *conn = open_conn(&cfg);
	hd_send_result res;
	json_t *a, *b;

	(void)state;
	send_path(conn, "POST", "/close?t=polite1", &res);
	assert_int_equal(res.status, HD_OK);
	send_path(conn, "POST", "/ok?t=polite2", &res);
	assert_int_equal(res.status, HD_OK);
	a = log_find(&plain, "t=polite1");
	b = log_find(&plain, "t=polite2");
	assert_int_equal(json_array_size(a), 1);
	assert_int_equal(json_array_size(b), 1);
	assert_true(
	    json_integer_value(json_object_get(json_array_get(a, 0), "conn")) !=
	    json_integer_value(json_object_get(json_array_get(b, 0), "conn")));
	json_decref(a);
	json_decref(b);
	hd_transport_http.close(conn);
}

/* As the pool uses it: each worker opens, sends and closes on its own
 * thread, all at once (libcurl's global init is shared). */
static void *worker(void *arg)
{
	hd_transport_config *cfg = arg;
	hd_send_result res;
	void *conn = NULL;
	hd_error err;
	long ok = 0;

	if (hd_transport_http.open(cfg, 0, &conn, &err) != HD_OK)
		return (void *)-1;
	for (int i = 0; i < 20; i++) {
		send_path(conn, "POST", "/ok?t=threads", &res);
		ok += res.status == HD_OK;
	}
	hd_transport_http.close(conn);
	return (void *)ok;
}

static void test_threads(void **state)
{
	hd_transport_config cfg = config();
	pthread_t t[4];
	long before = stat_of(&plain, "connections");
	json_t *log;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, &cfg), 0);
	for (int i = 0; i < 4; i++) {
		void *ok;
		pthread_join(t[i], &ok);
		assert_int_equal((long)ok, 20);
	}
	assert_int_equal(stat_of(&plain, "connections") - before, 4);
	log = log_find(&plain, "t=threads");
	assert_int_equal(json_array_size(log), 80);
	json_decref(log);
}

/* ---- setup ------------------------------------------------------------- */

static int setup(void **state)
{
	char script[1200], certs[64], key[128], cert[128];
	char *argv[4];

	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(script, sizeof(script), "%s/tests/servers/make_certs.sh",
		 root);
	snprintf(certs, sizeof(certs), "%s/certs", dir);
	argv[0] = (char *)"/bin/sh";
	argv[1] = script;
	argv[2] = certs;
	argv[3] = NULL;
	if (run(argv) != 0) {
		fprintf(stderr, "make_certs.sh failed\n");
		return -1;
	}
	snprintf(ca, sizeof(ca), "%s/ca.pem", certs);
	if (server_start(&plain, "plain", NULL, NULL) != 0)
		return -1;
	snprintf(cert, sizeof(cert), "%s/server.pem", certs);
	snprintf(key, sizeof(key), "%s/server.key", certs);
	if (server_start(&tls, "tls", cert, key) != 0)
		return -1;
	snprintf(cert, sizeof(cert), "%s/untrusted.pem", certs);
	snprintf(key, sizeof(key), "%s/untrusted.key", certs);
	if (server_start(&untrusted, "untrusted", cert, key) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char *argv[] = {(char *)"/bin/rm", (char *)"-rf", dir, NULL};

	(void)state;
	server_stop(&plain);
	server_stop(&tls);
	server_stop(&untrusted);
	if (getenv("HERALD_KEEP_TMP"))
		fprintf(stderr, "kept %s\n", dir);
	else
		run(argv);
	return 0;
}

/* The project folder: HERALD_SRC, else the one this file is in. */
static void find_root(void)
{
	const char *env = getenv("HERALD_SRC");
	char *slash;

	if (env && *env) {
		snprintf(root, sizeof(root), "%s", env);
		return;
	}
	snprintf(root, sizeof(root), "%s", __FILE__);
	slash = strrchr(root, '/');
	if (slash)
		*slash = '\0'; /* .../tests */
	slash = strrchr(root, '/');
	if (slash)
		*slash = '\0'; /* ... */
	else
		snprintf(root, sizeof(root), ".");
}

int main(void)
{
	static const char *const proxies[] = {
	    "http_proxy",  "https_proxy", "HTTP_PROXY",
	    "HTTPS_PROXY", "all_proxy",	  "ALL_PROXY",
	};
	char script[1200];
	int rc;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_bad_messages),
	    cmocka_unit_test(test_exact_request),
	    cmocka_unit_test(test_one_handle_many_requests),
	    cmocka_unit_test(test_reuse),
	    cmocka_unit_test(test_max_per_connection),
	    cmocka_unit_test(test_retry_after),
	    cmocka_unit_test(test_status_table),
	    cmocka_unit_test(test_drop),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_tls),
	    cmocka_unit_test(test_no_credentials),
	    cmocka_unit_test(test_snippet),
	    cmocka_unit_test(test_flaky),
	    cmocka_unit_test(test_silent_resend),
	    cmocka_unit_test(test_polite_close),
	    cmocka_unit_test(test_threads),
	};

	find_root();
	snprintf(script, sizeof(script), "%s/tests/servers/http_server.py",
		 root);
	if (access(PYTHON, X_OK) != 0 ||
	    system("command -v openssl >/dev/null 2>&1") != 0) {
		fprintf(stderr, "SKIPPED: test_transport_http needs " PYTHON
				" and openssl, not found\n");
		return 77;
	}
	if (access(script, R_OK) != 0) {
		fprintf(stderr, "SKIPPED: %s not found (set HERALD_SRC)\n",
			script);
		return 77;
	}
	/* the servers are on 127.0.0.1: no proxy may stand in between */
	for (size_t i = 0; i < sizeof(proxies) / sizeof(*proxies); i++)
		unsetenv(proxies[i]);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT); /* as hd_run does */
	rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
