/*
 * retry_after.h — the value of an HTTP Retry-After header (internal).
 *
 * RFC 9110 section 10.2.3: delta-seconds ("120") or an HTTP-date in any
 * of the three forms of section 5.6.7 (IMF-fixdate, RFC 850, asctime),
 * read by curl_getdate().  A date is turned into seconds from now.  The
 * result is clamped to [0, HD_RETRY_AFTER_CAP]: a server may not park a
 * worker for a day, and a date in the past means "now".
 *
 * Pure (now is given, not read), so it can be tested and fuzzed as it
 * is; thread-safe.
 */
#ifndef HD_RETRY_AFTER_H
#define HD_RETRY_AFTER_H

#include <time.h>

#define HD_RETRY_AFTER_CAP 3600.0 /* seconds */

/* Seconds the server asks to wait, given the header's value (trimmed,
 * NUL-terminated) and the current time; -1 when it cannot be read. */
double hd__retry_after_parse(const char *value, time_t now);

#endif
