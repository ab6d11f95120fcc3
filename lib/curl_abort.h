/*
 * curl_abort.h — what the curl transports share to honour the run's abort
 * flag (internal).
 *
 * libcurl calls an XFERINFOFUNCTION often during a transfer and about once
 * a second while it waits; a non-zero return ends the transfer with
 * CURLE_ABORTED_BY_CALLBACK.  Set it with the run's flag as its data:
 *
 *     curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
 *     curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, hd__curl_abort_cb);
 *     curl_easy_setopt(h, CURLOPT_XFERINFODATA, cfg->abort);
 *
 * so a second SIGINT does not wait for a slow server (transport.h,
 * abort).  Thread-safe: it only reads an atomic.
 */
#ifndef HD_CURL_ABORT_H
#define HD_CURL_ABORT_H

#include <curl/curl.h>

/* ud is a const atomic_int * (may be NULL: never aborts). */
int hd__curl_abort_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow,
		      curl_off_t ultotal, curl_off_t ulnow);

#endif
