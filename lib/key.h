/*
 * key.h — who a row is: the recipient key (internal).
 *
 * The key identifies a recipient for dedupe, the report, and the stable
 * Message-ID / Idempotency-Key.  Each row's key is shown as text (the
 * report's "key") and compared by its identity (the same text, or a
 * folded form where case must not matter).
 */
#ifndef HD_KEY_H
#define HD_KEY_H

#include "herald.h"
#include "message.h"

#include <jansson.h>

typedef struct hd__keyspec {
	char field[128]; /* the record field that is the key */
	char desc[256];	 /* what the key is, for a note to the user */
} hd__keyspec;

/* Chooses the key from --key (field, may be NULL) and the first record:
 * --key, else "email" when present, else the first field.  HD_EPARSE when
 * the first record has no field at all (source_name/line for the error).
 */
hd_status hd__key_choose(hd__keyspec *ks, const char *field, json_t *first,
			 const char *source_name, long line, hd_error *err);

/* The row's key as text (malloc'd), or NULL when the row has none (the
 * field is missing, null, empty, an object or an array). */
char *hd__key_of(const hd__keyspec *ks, json_t *record);

/* The identity a key is compared by (malloc'd); NULL for NULL or when out
 * of memory. */
char *hd__key_identity(const hd__keyspec *ks, const char *key);

#endif
