/*
 * secret.h — reading a secret from a private file (internal).
 *
 * SYNOPSIS
 *	char *key; size_t len;
 *	if (hd__secret_read(path, "DKIM key", 64 << 10, &key, &len, &err))
 *		return ...;
 *	... use key[0..len) ...
 *	hd__secret_free(key, len);
 *
 * DESCRIPTION
 *	DKIM private keys and the unsubscribe secret are read once, when a
 *	run or the unsubscribe server starts, from files that must be
 *	private: a file that others (neither the owner nor the group) may
 *	read or write is refused, as ssh and the SMTP password file do, since
 *	whoever reads it can sign as the domain or forge unsubscribe links.
 *	A file shared with a group (0640 root:opendkim, say) is accepted.
 *	The bytes are never logged and are wiped before they are freed.
 *
 * ERRORS
 *	HD_ENOENT   missing, unreadable or not a regular file
 *	HD_ECONFIG  readable or writable by others; larger than max bytes
 *	HD_ENOMEM
 *	err names the file and says which of these, never the contents.
 *
 * THREAD-SAFETY
 *	No shared state.
 */
#ifndef HD_SECRET_H
#define HD_SECRET_H

#include "herald.h"

#include <stddef.h>

/* Reads the whole file (at most max bytes) into *out, NUL-terminated;
 * what names it in errors ("DKIM key"). */
hd_status hd__secret_read(const char *path, const char *what, size_t max,
			  char **out, size_t *len, hd_error *err);

/* Wipes p[0..len) and frees it.  NULL is allowed. */
void hd__secret_free(char *p, size_t len);

#endif
