/* redis.c — a Redis connection through hiredis; see redis.h. */
#include "redis.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#define CONNECT_TIMEOUT_S 5
#define DEFAULT_PORT 6379

struct hd__redis {
	redisContext *c;
	hd__redis_url url;
};

static hd_status bad_url(hd_error *err, const char *why)
{
	return hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
			    "not a Redis stream URL (redis://HOST[:PORT][/DB]/"
			    "STREAM): %s",
			    why);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) into out[size]; -1 when malformed or too long. */
static int decode(const char *s, size_t n, char *out, size_t size)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
			if (lo < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0' || k + 1 >= size)
			return -1;
		out[k++] = c;
	}
	out[k] = '\0';
	return 0;
}

static int all_digits(const char *s, size_t n)
{
	if (n == 0 || n > 6)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

hd_status hd__redis_url_parse(const char *url, hd__redis_url *out,
			      hd_error *err)
{
	const char *p, *auth_end, *host_end, *path;
	size_t n;

	memset(out, 0, sizeof(*out));
	out->port = DEFAULT_PORT;
	if (!url || strncasecmp(url, "redis://", 8) != 0) {
		if (url && strncasecmp(url, "rediss://", 9) == 0)
			return hd_error_set(
			    err, HD_ECONFIG, NULL, 0, 0,
			    "rediss:// (TLS) is not spoken by this build's "
			    "hiredis: reach the server through a TLS tunnel "
			    "(stunnel, spiped) and use redis://");
		return bad_url(err, "it must start with redis://");
	}
	p = url + 8;
	path = strchr(p, '/');
	if (!path)
		return bad_url(err, "no stream named");
	auth_end = memchr(p, '@', (size_t)(path - p));
	if (auth_end) {
		n = (size_t)(auth_end - p);
		if (memchr(p, ':', n))
			return hd_error_set(
			    err, HD_ECONFIG, NULL, 0, 0,
			    "a password in the Redis URL is refused (others "
			    "can read the command line): set "
			    "HERALD_REDIS_PASSWORD or give "
			    "--redis-password-file");
		if (n == 0 || decode(p, n, out->user, sizeof(out->user)) != 0)
			return bad_url(err, "a malformed user name");
		p = auth_end + 1;
	}
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(path - p));
		if (!close || close - p - 1 <= 0 ||
		    (size_t)(close - p - 1) >= sizeof(out->host))
			return bad_url(err, "a malformed IPv6 address");
		memcpy(out->host, p + 1, (size_t)(close - p - 1));
		host_end = close + 1;
	} else {
		host_end = p;
		while (host_end < path && *host_end != ':')
			host_end++;
		n = (size_t)(host_end - p);
		if (n == 0 || n >= sizeof(out->host))
			return bad_url(err, "no host");
		memcpy(out->host, p, n);
	}
	if (host_end < path) {
		char *end;
		long port;
		if (*host_end != ':')
			return bad_url(err, "a malformed host");
		errno = 0;
		port = strtol(host_end + 1, &end, 10);
		if (end != path || end == host_end + 1 || errno || port < 1 ||
		    port > 65535)
			return bad_url(err, "a malformed port");
		out->port = (int)port;
	}
	/* /DB/STREAM or /STREAM */
	path++;
	n = strcspn(path, "/");
	if (path[n] == '/' && all_digits(path, n) && path[n + 1]) {
		out->db = strtol(path, NULL, 10);
		path += n + 1;
	}
	if (strcspn(path, "?#") != strlen(path))
		return bad_url(err, "a query or fragment ('?', '#'): write "
				    "them as %3F and %23 in a stream's name");
	if (!*path ||
	    decode(path, strlen(path), out->stream, sizeof(out->stream)) != 0)
		return bad_url(err, "no stream named, or a malformed one");
	{
		int v6 = strchr(out->host, ':') != NULL;
		snprintf(out->display, sizeof(out->display),
			 "redis://%s%s%s%s%s:%d/%ld/%s", out->user,
			 out->user[0] ? "@" : "", v6 ? "[" : "", out->host,
			 v6 ? "]" : "", out->port, out->db, out->stream);
	}
	return HD_OK;
}

static hd_status lost(hd__redis *r, hd_error *err)
{
	return hd_error_set(err, HD_EINTERRUPTED, NULL, 0, 0,
			    "%.300s: connection lost: %.200s", r->url.display,
			    r->c && r->c->errstr[0] ? r->c->errstr
						    : "no reply");
}

/* An error reply: HD_EIO naming the command (never its arguments: they
 * may hold a password or recipients' data). */
static hd_status error_reply(hd__redis *r, const char *cmd,
			     const redisReply *rep, hd_error *err)
{
	const char *text = rep->str ? rep->str : "";

	if (!strncmp(text, "NOAUTH", 6) || !strncmp(text, "WRONGPASS", 9))
		return hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				    "%.300s: %.200s (the password comes from "
				    "HERALD_REDIS_PASSWORD or "
				    "--redis-password-file)",
				    r->url.display, text);
	return hd_error_set(err, HD_EIO, NULL, 0, 0, "%.300s: %s: %.300s",
			    r->url.display, cmd, text);
}

hd_status hd__redis_call(hd__redis *r, int argc, const char **argv,
			 const size_t *lens, redisReply **reply, hd_error *err)
{
	redisReply *rep;

	*reply = NULL;
	rep = redisCommandArgv(r->c, argc, argv, lens);
	if (!rep)
		return lost(r, err);
	if (rep->type == REDIS_REPLY_ERROR) {
		hd_status st = error_reply(r, argv[0], rep, err);
		freeReplyObject(rep);
		return st;
	}
	*reply = rep;
	return HD_OK;
}

hd_status hd__redis_append(hd__redis *r, int argc, const char **argv,
			   const size_t *lens, hd_error *err)
{
	if (redisAppendCommandArgv(r->c, argc, argv, lens) != REDIS_OK)
		return lost(r, err);
	return HD_OK;
}

hd_status hd__redis_reply(hd__redis *r, redisReply **reply, hd_error *err)
{
	void *rep = NULL;

	*reply = NULL;
	if (redisGetReply(r->c, &rep) != REDIS_OK || !rep)
		return lost(r, err);
	*reply = rep;
	return HD_OK;
}

void hd__redis_timeout(hd__redis *r, double seconds)
{
	struct timeval tv = {0, 0};

	if (seconds > 0) {
		tv.tv_sec = (time_t)seconds;
		tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	}
	redisSetTimeout(r->c, tv);
}

/* A command of the setting up (AUTH, SELECT): an error reply is a
 * configuration error, what says which. */
static hd_status setup_cmd(hd__redis *r, int argc, const char **argv,
			   const char *what, hd_error *err)
{
	redisReply *rep = redisCommandArgv(r->c, argc, argv, NULL);
	hd_status st = HD_OK;

	if (!rep)
		return lost(r, err);
	if (rep->type == REDIS_REPLY_ERROR)
		st = hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				  "%.300s: %s: %.200s", r->url.display, what,
				  rep->str);
	freeReplyObject(rep);
	return st;
}

hd_status hd__redis_connect(const hd__redis_url *u, const char *password,
			    hd__redis **out, hd_error *err)
{
	struct timeval tv = {CONNECT_TIMEOUT_S, 0};
	hd__redis *r = calloc(1, sizeof(*r));
	static const char *ping[] = {"PING"};
	redisReply *rep = NULL;
	hd_status st = HD_OK;
	char db[24];

	*out = NULL;
	if (!r)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	r->url = *u;
	r->c = redisConnectWithTimeout(u->host, u->port, tv);
	if (!r->c || r->c->err) {
		st = hd_error_set(err, HD_EINTERRUPTED, NULL, 0, 0,
				  "%.300s: cannot connect: %.200s", u->display,
				  r->c ? r->c->errstr : "out of memory");
		goto out;
	}
	hd__redis_timeout(r, 30);
	if (password) {
		const char *argv[3] = {"AUTH", u->user, password};
		if (!u->user[0])
			argv[1] = password;
		st = setup_cmd(r, u->user[0] ? 3 : 2, argv,
			       "the password was refused", err);
	}
	/* a server that wants a password says so now */
	if (st == HD_OK)
		st = hd__redis_call(r, 1, ping, NULL, &rep, err);
	if (st == HD_OK && u->db != 0) {
		const char *argv[2] = {"SELECT", db};
		snprintf(db, sizeof(db), "%ld", u->db);
		st = setup_cmd(r, 2, argv, "cannot select the database", err);
	}
out:
	freeReplyObject(rep);
	if (st != HD_OK) {
		hd__redis_free(r);
		return st;
	}
	*out = r;
	return HD_OK;
}

const char *hd__redis_name(const hd__redis *r)
{
	return r->url.display;
}

void hd__redis_free(hd__redis *r)
{
	if (!r)
		return;
	if (r->c)
		redisFree(r->c);
	free(r);
}
