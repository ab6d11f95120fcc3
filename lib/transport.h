/*
 * transport.h — what is sent, and the table every transport fills (internal).
 *
 * A transport is a const table of functions, one small file each
 * (transport_outbox.c, transport_smtp.c, transport_http.c, and dry-run).
 * The run calls check() once on the main thread, then each worker calls
 * open() on its own thread, send() for each attempt, close() when it ends.
 * A connection (void *conn) belongs to one worker and is never shared, so
 * send() needs no locking.  send() never prints; what happened goes into
 * the hd_send_result.
 */
#ifndef HD_TRANSPORT_H
#define HD_TRANSPORT_H

#include "herald.h"

#include <curl/curl.h>
#include <stdatomic.h>
#include <stddef.h>

/* An email as handed to SMTP: the envelope and the exact bytes. */
typedef struct hd_email {
	char *from;  /* envelope sender, bare addr-spec ("a@b.example") */
	char **rcpt; /* envelope recipients, bare addr-specs */
	size_t nrcpt;
	char *data; /* the whole message, CRLF line ends, not dot-stuffed */
	size_t len;
} hd_email;

typedef struct hd_header {
	char *name;
	char *value;
} hd_header;

/* An HTTP request as built from a .http template. */
typedef struct hd_request {
	char *method;	    /* "POST" */
	char *url;	    /* absolute http:// or https:// URL */
	hd_header *headers; /* in template order, Idempotency-Key included */
	size_t nheaders;
	char *body; /* may be NULL when body_len is 0 */
	size_t body_len;
} hd_request;

typedef enum hd_message_kind {
	HD_MSG_EMAIL = 1,
	HD_MSG_HTTP = 2
} hd_message_kind;

typedef struct hd_message {
	hd_message_kind kind;
	hd_email email;	 /* when kind == HD_MSG_EMAIL */
	hd_request http; /* when kind == HD_MSG_HTTP */
	char *id;	 /* Message-ID ("<...>") or Idempotency-Key */
} hd_message;

/* Frees what the message owns (not the struct).  NULL is allowed. */
void hd_message_clear(hd_message *msg);

/* Why a destination could not be reached at all: nothing of the message
 * went anywhere, and no row is likely to fare better while it lasts. */
typedef enum hd_unreach {
	HD_REACHED = 0,
	HD_UNREACH_CONNECT, /* refused, or no greeting: try again later */
	HD_UNREACH_RESOLVE, /* the host name does not resolve */
	HD_UNREACH_TLS,	    /* no TLS where TLS was asked for */
} hd_unreach;

/* The outcome of one attempt.  Every field describes this attempt only:
 * code and response are the server's reply to this message (never a
 * greeting, an EHLO or an earlier message's reply), or 0 and "". */
typedef struct hd_send_result {
	hd_status status;   /* HD_OK, HD_ETRANSIENT or HD_EPERMANENT */
	long code;	    /* last SMTP reply code or HTTP status; 0: none */
	char response[512]; /* server's reply text or a body snippet,
			       printable ASCII, credentials never */
	char error[512];    /* what went wrong; "" when sent */
	double retry_after; /* seconds the server asked to wait; < 0: none */
	int slow_down;	    /* the server asked the whole pool to slow down
			       (HTTP 429 / Retry-After, SMTP 421 / 4.7.x) */
	int reconnect;	    /* a reused connection was found dead before any
			       byte of this message went out: try again on a
			       fresh connection without spending an attempt */
	int fatal;	    /* no row can succeed with this configuration
			       (credentials refused, TLS peer not trusted,
			       STARTTLS missing while AUTH is configured):
			       the run stops with exit 78 */
	int uncertain;	    /* the message had left (SMTP: the final ".";
			       HTTP: the whole request) but no reply came:
			       it may have arrived, so it is never sent
			       again blindly; error says why */
	hd_unreach unreachable; /* the destination could not be reached
				   at all (set with HD_ETRANSIENT) */
	char dest[136];		/* host:port the attempt went to, for
				   messages; "" when not known */
} hd_send_result;

/* Everything a transport needs to know; filled by the CLI, read-only. */
typedef struct hd_transport_config {
	const char *url;	  /* smtp://, smtps:// server; NULL for HTTP
				     (the URL is in each request) */
	const char *user;	  /* SMTP AUTH user or NULL */
	const char *password;	  /* never logged; NULL when none */
	const char *cacert;	  /* CA bundle file or NULL for the system's */
	int insecure;		  /* 1: do not verify TLS peers */
	int allow_plaintext_auth; /* 1: AUTH without TLS is allowed */
	long timeout_ms;	  /* per attempt */
	long max_per_connection;  /* 0: no cap */
	const char *outbox_dir;	  /* outbox transport: where files go */
	long streams;		  /* HTTP/2: requests sharing a connection;
				     <= 1: one at a time */
	int verbose;
	/* Set (non-zero) by the run when in-flight attempts must be aborted
	 * (a second SIGINT/SIGTERM); a transport checks it while it waits,
	 * e.g. from a curl progress callback.  May be NULL. */
	const atomic_int *abort;
	/* Every socket the transfers open, so that an abort can cut them
	 * all, kept connections included (curl_abort.h).  May be NULL. */
	struct hd__sockets *sockets;
} hd_transport_config;

typedef struct hd_transport {
	/* "outbox", "dry-run", "smtp", "http" */
	const char *name;
	/* Once, before any worker starts: validates the configuration (URL
	 * scheme, credentials and TLS policy, outbox folder).  HD_ECONFIG or
	 * HD_ECREATE with err filled.  May be NULL. */
	hd_status (*check)(const hd_transport_config *cfg, hd_error *err);
	/* On the worker's own thread: creates that worker's connection state
	 * (its curl easy handle).  No network traffic yet. */
	hd_status (*open)(const hd_transport_config *cfg, unsigned worker,
			  void **conn, hd_error *err);
	/* One attempt to deliver msg (row is the 1-based input row, for file
	 * names and logs).  Always fills res. */
	void (*send)(void *conn, const hd_message *msg, long row,
		     hd_send_result *res);
	/* On the worker's own thread when it ends.  NULL conn is allowed. */
	void (*close)(void *conn);
	/* Optional, for transports on libcurl: one attempt in two halves, so
	 * that a worker can drive many through one curl multi handle.
	 * start() sets conn's easy handle up for msg and returns it; the
	 * caller adds it to its multi handle and, once the multi says it is
	 * done and it has been removed, calls finish() with the transfer's
	 * CURLcode.  start() returns NULL when the attempt is over already
	 * (res filled: a message this transport cannot send).  send() then
	 * is start, curl_easy_perform and finish.  NULL for transports that
	 * work synchronously (outbox, dry-run): the worker calls send(). */
	CURL *(*start)(void *conn, const hd_message *msg, long row,
		       hd_send_result *res);
	void (*finish)(void *conn, CURLcode cc, hd_send_result *res);
} hd_transport;

extern const hd_transport hd_transport_outbox;
extern const hd_transport hd_transport_dryrun;
extern const hd_transport hd_transport_smtp;
extern const hd_transport hd_transport_http;

#endif
