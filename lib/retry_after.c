/* retry_after.c — the Retry-After header value; see retry_after.h. */
#include "retry_after.h"

#include <curl/curl.h>

#include <string.h>

double hd__retry_after_parse(const char *v, time_t now)
{
	double secs = 0;
	time_t when;

	if (!*v)
		return -1;
	if (strspn(v, "0123456789") == strlen(v)) {
		for (; *v && secs <= HD_RETRY_AFTER_CAP; v++)
			secs = secs * 10 + (*v - '0');
		return secs > HD_RETRY_AFTER_CAP ? HD_RETRY_AFTER_CAP : secs;
	}
	when = curl_getdate(v, NULL);
	if (when == -1)
		return -1;
	secs = difftime(when, now);
	if (secs < 0)
		return 0;
	return secs > HD_RETRY_AFTER_CAP ? HD_RETRY_AFTER_CAP : secs;
}
