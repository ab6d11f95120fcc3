/*
 * curl_outcome.h — what a libcurl error means for a row (internal).
 *
 * One table for every transport: a CURLcode gives a status (transient:
 * try again later; permanent: this row will not succeed), whether the run
 * must stop (the configuration is at fault, so no row can succeed: a TLS
 * peer that cannot be trusted, unusable CA or client certificates,
 * refused credentials), and the words a report gives it.  Codes not in
 * the table are transient: a retry costs little, and the attempt count
 * bounds it.
 *
 * A transport adds what only it knows: an SMTP reply code >= 400 decides
 * instead of the curl error when the rule says HD__CURL_BY_REPLY; the
 * host is named for HD__CURL_TLS_PEER; "sent, no reply" (uncertain) is
 * decided before this table is read.
 *
 * Pure; thread-safe.
 */
#ifndef HD_CURL_OUTCOME_H
#define HD_CURL_OUTCOME_H

#include "herald.h"
#include "transport.h"

#include <curl/curl.h>

enum {
	HD__CURL_FATAL = 1 << 0,    /* stops the run */
	HD__CURL_BY_REPLY = 1 << 1, /* a reply code >= 400 decides instead */
	HD__CURL_TLS_PEER = 1 << 2, /* "TLS certificate of HOST not trusted" */
};

typedef struct hd__curl_rule {
	CURLcode code;
	hd_status status;
	unsigned flags;
	const char *what; /* words before curl's detail; NULL: the detail */
} hd__curl_rule;

/* The rule for cc (CURLE_OK excluded); never NULL. */
const hd__curl_rule *hd__curl_rule_of(CURLcode cc);

/* How far a failed attempt got, as its transport saw it. */
typedef struct hd__curl_attempt {
	CURLcode cc;
	int reused; /* on a connection kept from an earlier message */
	int heard;  /* a byte of a reply came (an SMTP greeting counts) */
	int sent;   /* a byte of this attempt's request or transaction left */
	int body;   /* a byte of the message's body left */
} hd__curl_attempt;

/* The one rule for both transports: could the server not be reached at
 * all?  A name that does not resolve, a refused connection, a TLS
 * handshake that failed on a new connection, or a listener that never
 * answered and nothing was sent to it.  Such rows make the run stop early
 * (fail fast) while no row got through. */
hd_unreach hd__curl_unreachable(const hd__curl_attempt *a);

/* The one reconnect rule: a kept connection turned out dead (send or
 * receive failed, or nothing came) before any reply byte and before any
 * byte of the body: the message never reached the server, so one fresh
 * connection may try again at no cost of an attempt. */
int hd__curl_reconnect(const hd__curl_attempt *a);

#endif
