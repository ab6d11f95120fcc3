/* curl_outcome.c — the one table of libcurl errors; see curl_outcome.h. */
#include "curl_outcome.h"

#include <stddef.h>

#define F HD__CURL_FATAL
#define R HD__CURL_BY_REPLY
#define T HD__CURL_TLS_PEER

/* clang-format off */
static const hd__curl_rule rules[] = {
    /* the configuration is at fault: every row would fail */
    {CURLE_USE_SSL_FAILED, HD_EPERMANENT, F,
     "server does not offer STARTTLS; refusing to send credentials in "
     "plaintext (--allow-plaintext-auth to override)"},
    {CURLE_PEER_FAILED_VERIFICATION, HD_EPERMANENT, F | T, NULL},
    {CURLE_SSL_ISSUER_ERROR, HD_EPERMANENT, F | T, NULL},
    {CURLE_SSL_PINNEDPUBKEYNOTMATCH, HD_EPERMANENT, F | T, NULL},
    {CURLE_SSL_CACERT_BADFILE, HD_EPERMANENT, F,
     "cannot load the CA certificates"},
    {CURLE_SSL_CRL_BADFILE, HD_EPERMANENT, F, "cannot load the CRL file"},
    {CURLE_SSL_CERTPROBLEM, HD_EPERMANENT, F,
     "problem with the local TLS certificate"},
    {CURLE_LOGIN_DENIED, HD_EPERMANENT, F | R, "authentication failed"},
    /* this row's message or URL cannot be sent */
    {CURLE_URL_MALFORMAT, HD_EPERMANENT, 0, "malformed URL"},
    {CURLE_READ_ERROR, HD_EPERMANENT, 0, "cannot read the message"},
    /* the network or the server, now: later may work */
    {CURLE_COULDNT_RESOLVE_HOST, HD_ETRANSIENT, 0, "cannot resolve host"},
    {CURLE_COULDNT_RESOLVE_PROXY, HD_ETRANSIENT, 0, "cannot resolve proxy"},
    {CURLE_COULDNT_CONNECT, HD_ETRANSIENT, 0, "cannot connect"},
    {CURLE_OPERATION_TIMEDOUT, HD_ETRANSIENT, 0, "timed out"},
    {CURLE_SSL_CONNECT_ERROR, HD_ETRANSIENT, 0, "TLS handshake failed"},
    {CURLE_SEND_ERROR, HD_ETRANSIENT, R, "connection lost"},
    {CURLE_RECV_ERROR, HD_ETRANSIENT, R, "connection lost"},
    {CURLE_GOT_NOTHING, HD_ETRANSIENT, 0,
     "connection closed without a reply"},
    {CURLE_PARTIAL_FILE, HD_ETRANSIENT, 0, "connection dropped mid-response"},
    {CURLE_HTTP2, HD_ETRANSIENT, 0, "HTTP/2 error"},
    {CURLE_HTTP2_STREAM, HD_ETRANSIENT, 0, "HTTP/2 stream error"},
    {CURLE_WEIRD_SERVER_REPLY, HD_ETRANSIENT, R, "malformed reply"},
    /* every scheme was checked before a send: this is a reply libcurl
     * will not read (HTTP/0.9, an SMTP greeting on an HTTP port) */
    {CURLE_UNSUPPORTED_PROTOCOL, HD_ETRANSIENT, 0, "malformed reply"},
    {CURLE_OUT_OF_MEMORY, HD_ETRANSIENT, 0, "out of memory"},
    /* our progress callback: the run is aborting (a second SIGINT) */
    {CURLE_ABORTED_BY_CALLBACK, HD_ETRANSIENT, 0, "aborted"},
};
/* clang-format on */

const hd__curl_rule *hd__curl_rule_of(CURLcode cc)
{
	static const hd__curl_rule other = {CURLE_OK, HD_ETRANSIENT, R, NULL};

	for (size_t i = 0; i < sizeof(rules) / sizeof(*rules); i++)
		if (rules[i].code == cc)
			return &rules[i];
	return &other;
}

static int dead_line(CURLcode cc)
{
	return cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR ||
	       cc == CURLE_GOT_NOTHING;
}

hd_unreach hd__curl_unreachable(const hd__curl_attempt *a)
{
	if (a->cc == CURLE_COULDNT_RESOLVE_HOST)
		return HD_UNREACH_RESOLVE;
	if (a->cc == CURLE_COULDNT_CONNECT)
		return HD_UNREACH_CONNECT;
	if (a->reused || a->sent)
		return HD_REACHED;
	if (a->cc == CURLE_SSL_CONNECT_ERROR)
		return HD_UNREACH_TLS;
	/* a listener that never answers, or hangs up at once */
	if (!a->heard &&
	    (a->cc == CURLE_OPERATION_TIMEDOUT || dead_line(a->cc)))
		return HD_UNREACH_CONNECT;
	return HD_REACHED;
}

int hd__curl_reconnect(const hd__curl_attempt *a)
{
	return a->reused && !a->heard && !a->body && dead_line(a->cc);
}
