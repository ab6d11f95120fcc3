/*
 * key.h — who a row is: the recipient key (internal).
 *
 * The key identifies a recipient for dedupe, the journal, --only-failed
 * and the stable Message-ID / Idempotency-Key, so a default that could
 * make two people one would silently leave a person out.  Hence:
 *
 *   --key FIELD         that field, compared exactly
 *   .eml templates      the envelope recipients (To, Cc, Bcc, as rendered
 *                       for the row), domains lower-cased, compared without
 *                       regard to case: "Ann@Example.com" and
 *                       "ann@example.com" are one person, two people who
 *                       share a name are two
 *   .http templates     a field named email (also e-mail, e_mail) or id, in
 *                       any case, decided from the first record (an email
 *                       field compared without regard to case); else the
 *                       whole record, so that distinct rows are never one
 *
 * A row's key is shown as text (the report's "key") and compared by its
 * identity: the same text, or its ASCII-lower-cased form where case must
 * not matter.
 */
#ifndef HD_KEY_H
#define HD_KEY_H

#include "herald.h"
#include "message.h"

#include <jansson.h>

typedef enum hd__keymode {
	HD__KEY_FIELD = 1, /* a record field */
	HD__KEY_ENVELOPE,  /* the rendered envelope recipients */
	HD__KEY_RECORD,	   /* the whole record, canonical JSON */
} hd__keymode;

typedef struct hd__keyspec {
	hd__keymode mode;
	int fold;	 /* identity is the lower-cased key */
	char field[128]; /* HD__KEY_FIELD: the field */
	char desc[256];	 /* what the key is, for a note to the user */
} hd__keyspec;

/* Chooses the key from --key (field, may be NULL), the template and the
 * first record. */
void hd__key_choose(hd__keyspec *ks, const char *field, const hd_msgtmpl *t,
		    json_t *first);

/* The row's key as text (*key, malloc'd) and its identity (*id).  When
 * the row has no key both are NULL and err says why (the field is missing
 * or empty; the envelope cannot be rendered): HD_EMISSING, or the
 * renderer's status.  HD_ENOMEM is the only other failure. */
hd_status hd__key_of(const hd__keyspec *ks, const hd_msgtmpl *t, json_t *record,
		     long row, char **key, char **id, hd_error *err);

/* The identity a key read back from a report is compared by (malloc'd;
 * NULL when out of memory). */
char *hd__key_identity(const hd__keyspec *ks, const char *key);

#endif
