/* curl_abort.c — the progress callback that ends a transfer on abort. */
#include "curl_abort.h"

#include <stdatomic.h>

int hd__curl_abort_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow,
		      curl_off_t ultotal, curl_off_t ulnow)
{
	const atomic_int *abort_flag = ud;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return abort_flag && atomic_load(abort_flag) ? 1 : 0;
}
