/*
 * trace.h — --trace FILE: the SMTP or HTTP conversation of every attempt
 * (internal).
 *
 * SYNOPSIS
 *	hd__trace *t;
 *	hd__trace_open("trace.log", secrets, nsecrets, &t, &err);
 *	    each connection (one per transport connection, on its worker):
 *	hd__trace_conn c;
 *	hd__trace_conn_init(&c, t, id);
 *	    from the connection's CURLOPT_DEBUGFUNCTION, for the row whose
 *	    attempt it is:
 *	hd__trace_curl(&c, row, type, data, size);
 *	    or, for what a transport speaks itself (check --connect):
 *	hd__trace_line(&c, row, '>', "MAIL FROM:<a@b.example>", n);
 *	hd__trace_close(t, &err);
 *
 * DESCRIPTION
 *	Lines are written as
 *
 *	    2026-12-03T13:30:09.123Z #2 row 12 > MAIL FROM:<a@b.example>
 *
 *	'>' what herald sent, '<' what came back, '*' what libcurl says
 *	about the connection (connecting, TLS, closing).  Message and
 *	request bodies are traced up to HD__TRACE_BODY bytes per attempt
 *	and then only counted.
 *
 *	Nothing secret is written: the secrets given to hd__trace_open (the
 *	SMTP password and its base64 forms, the values --env lets templates
 *	read) and credential fields are masked as in redact.h; the argument
 *	of AUTH, and every line a client sends after a 334 challenge (AUTH
 *	LOGIN's user name and password), becomes "***"; so does the value
 *	of every HTTP header that carries a credential.
 *
 * THREADS
 *	Any number of workers write through their own hd__trace_conn at
 *	once; one thread of the trace's own writes the file, in the order
 *	the lines came (a bounded buffer between them: a worker waits when
 *	the file falls HD__TRACE_BUFFER bytes behind).  An hd__trace_conn
 *	belongs to one thread.  hd__trace_close() writes what is left and
 *	joins the writer; nobody may write after it.
 */
#ifndef HD_TRACE_H
#define HD_TRACE_H

#include "herald.h"

#include <curl/curl.h>

#define HD__TRACE_BODY 4096	    /* body bytes traced per attempt */
#define HD__TRACE_BUFFER (4L << 20) /* bytes waiting for the file */
#define HD__TRACE_SECRETS 16	    /* secrets masked at most */

typedef struct hd__trace hd__trace;

/* One connection's view of the trace (its state between lines). */
typedef struct hd__trace_conn {
	hd__trace *t;	/* NULL: tracing is off, every call a no-op */
	unsigned id;	/* shown as #id */
	long row;	/* the row of the body being counted */
	int challenged; /* the server's last reply was 334: the next
			   client line is a credential */
	size_t body;	/* body bytes traced for this row so far */
	size_t skipped; /* body bytes not traced */
} hd__trace_conn;

/* Creates path (0600; an existing file is replaced) and starts the
 * writer.  secrets[0..n) are copied (NULL, "" and short ones skipped,
 * see redact.h).  HD_ECREATE when the file cannot be made. */
hd_status hd__trace_open(const char *path, const char *const *secrets, size_t n,
			 hd__trace **out, hd_error *err);

/* cfg->trace_path opened as above, masking cfg's secrets (the SMTP
 * password, the --env values); *out NULL and HD_OK without --trace. */
hd_status hd__trace_open_run(const hd_run_config *cfg, hd__trace **out,
			     hd_error *err);

/* Starts a connection's view; t may be NULL (tracing off). */
void hd__trace_conn_init(hd__trace_conn *c, hd__trace *t, unsigned id);

/* A number for the next connection, from 1 (any thread); 0 when t is
 * NULL. */
unsigned hd__trace_next_id(hd__trace *t);

/* The connection starts an attempt of row: what follows is that row's,
 * and its body is traced from its first byte. */
void hd__trace_attempt(hd__trace_conn *c, long row);

/* A CURLOPT_DEBUGFUNCTION for a handle that needs no debug callback of
 * its own: CURLOPT_DEBUGDATA is the hd__trace_conn, the row the one of
 * its last hd__trace_attempt.  Always 0. */
int hd__trace_debug_cb(CURL *h, curl_infotype type, char *data, size_t size,
		       void *conn);

/* What libcurl's debug callback got, for the attempt of row. */
void hd__trace_curl(hd__trace_conn *c, long row, curl_infotype type,
		    const char *data, size_t size);

/* Lines data[0..n) (split at line ends) in direction dir ('>' sent,
 * '<' received, '*' a note), masked as described. */
void hd__trace_line(hd__trace_conn *c, long row, char dir, const char *data,
		    size_t n);

/* Writes what is left, closes the file, frees t.  HD_EIO (err filled)
 * when the file could not be written whole.  NULL is allowed. */
hd_status hd__trace_close(hd__trace *t, hd_error *err);

#endif
