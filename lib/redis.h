/*
 * redis.h — a connection to a Redis server, through hiredis (internal).
 *
 * SYNOPSIS
 *	hd__redis_url u;
 *	hd__redis *r;
 *	redisReply *rep;
 *
 *	hd__redis_url_parse("redis://127.0.0.1:6379/2/jobs", &u, &err);
 *	hd__redis_connect(&u, password, &r, &err);
 *	const char *argv[] = {"XLEN", u.stream};
 *	if (hd__redis_call(r, 2, argv, NULL, &rep, &err) == HD_OK) ...
 *	freeReplyObject(rep);
 *	hd__redis_free(r);
 *
 * URLS
 *	redis://[USER@]HOST[:PORT][/DB]/STREAM
 *	HOST is a name, an IPv4 address or [an IPv6 address]; PORT defaults
 *	to 6379; DB (a number, default 0) is the database SELECT takes; the
 *	rest of the path is the stream's key, percent-decoded (%2F for a
 *	'/', which is also taken as is: redis://h/0/a/b is the stream "a/b"
 *	in database 0; a first segment of digits is a database only when a
 *	stream follows it).  USER is an ACL user (AUTH USER PASSWORD); a
 *	password in the URL is refused: argv is public, the password comes
 *	from the environment or a private file.  rediss:// (TLS) is not
 *	spoken: Debian 12's hiredis 0.14 has no TLS (reach a remote server
 *	through a TLS tunnel such as stunnel or spiped).
 *
 * ERRORS
 *	HD_ECONFIG   a malformed URL; a password refused; a database that
 *	             cannot be selected
 *	HD_EINTERRUPTED  the server cannot be reached or the connection was
 *	             lost: try again later
 *	HD_EIO       the server answered a command with an error (err says
 *	             the command and the server's text)
 *	err never holds the password.
 *
 * THREAD-SAFETY
 *	A connection is used by one thread at a time.
 */
#ifndef HD_REDIS_H
#define HD_REDIS_H

#include "herald.h"

#include <hiredis/hiredis.h>

typedef struct hd__redis_url {
	char host[256];
	int port;
	long db;
	char user[128];	   /* "" when none */
	char stream[512];  /* the key, decoded */
	char display[800]; /* the URL to show: redis://host:port/db/stream */
} hd__redis_url;

typedef struct hd__redis hd__redis;

/* Parses url (see URLS).  HD_ECONFIG with err naming what is wrong. */
hd_status hd__redis_url_parse(const char *url, hd__redis_url *out,
			      hd_error *err);

/* Connects (a 5 s limit), authenticates when password is not NULL and
 * selects the database. */
hd_status hd__redis_connect(const hd__redis_url *u, const char *password,
			    hd__redis **out, hd_error *err);

/* Per-command time limit for replies (a blocking read adds its own
 * time); 0: none. */
void hd__redis_timeout(hd__redis *r, double seconds);

/* One command: argv (lens NULL: NUL-terminated strings).  HD_OK with
 * *reply (free it with freeReplyObject); an error reply is HD_EIO with
 * err saying the command and the server's text (*reply NULL). */
hd_status hd__redis_call(hd__redis *r, int argc, const char **argv,
			 const size_t *lens, redisReply **reply, hd_error *err);

/* Pipelining: queue commands with hd__redis_append, then read each
 * reply in order with hd__redis_reply (an error reply is HD_OK here,
 * the caller looks at its type). */
hd_status hd__redis_append(hd__redis *r, int argc, const char **argv,
			   const size_t *lens, hd_error *err);
hd_status hd__redis_reply(hd__redis *r, redisReply **reply, hd_error *err);

/* The URL as shown, for messages. */
const char *hd__redis_name(const hd__redis *r);

void hd__redis_free(hd__redis *r);

#endif
