/*
 * curl_abort.h — what the curl transports share to honour the run's abort
 * (internal).
 *
 * Two mechanisms, both needed:
 *
 *   The progress callback.  libcurl calls an XFERINFOFUNCTION often during
 *   a transfer and about once a second while it waits; a non-zero return
 *   ends the transfer with CURLE_ABORTED_BY_CALLBACK:
 *
 *     curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
 *     curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, hd__curl_abort_cb);
 *     curl_easy_setopt(h, CURLOPT_XFERINFODATA, cfg->abort);
 *
 *   The socket registry.  A connection libcurl keeps in a multi handle's
 *   cache belongs to no transfer, and closing it sends QUIT (SMTP) and
 *   waits for the reply: on a server that sits still, for as long as the
 *   timeout.  Every socket a run's transfers open is registered
 *   (hd__sockets_use); on a second interrupt hd__sockets_cut shuts all of
 *   them down at once, so in-flight transfers, QUITs and cleanups all end
 *   now, and refuses new ones.
 *
 * Thread-safety: the callback only reads an atomic; the registry has a
 * mutex (a leaf).
 */
#ifndef HD_CURL_ABORT_H
#define HD_CURL_ABORT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>

/* ud is a const atomic_int * (may be NULL: never aborts). */
int hd__curl_abort_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow,
		      curl_off_t ultotal, curl_off_t ulnow);

typedef struct hd__sockets {
	pthread_mutex_t mu;
	curl_socket_t *fds; /* open, in no order */
	size_t n, cap;
	int cut; /* hd__sockets_cut was called */
} hd__sockets;

void hd__sockets_init(hd__sockets *s);
void hd__sockets_destroy(hd__sockets *s);

/* Makes h open and close its sockets through s (s may be NULL: no
 * registry). */
void hd__sockets_use(CURL *h, hd__sockets *s);

/* Shuts down every registered socket; later ones are refused. */
void hd__sockets_cut(hd__sockets *s);

#endif
