/*
 * fields.h — do the names a template uses exist in the recipients file?
 * (internal)
 *
 * A tag that names a column the file does not have fails on every row:
 * one mistake, which must be one line ("no column 'firstname' ... did
 * you mean 'first_name'?"), not one line per row.  So before any row is
 * rendered the template's tags are held against what is known of every
 * record:
 *
 *   CSV    every record has the header's columns (and their aliases,
 *          source.h), and every value is text: a variable tag whose
 *          first name part is none of them, or a dotted name on a column
 *          ({{company.name}}: text has no fields), can never render;
 *   env    {{env.NAME}} reads the variables --env allows, the same for
 *          every row: one that is not allowed or not set can never
 *          render, whatever the format;
 *   --key  a key field that is not a CSV column leaves every row
 *          without a key.
 *
 * Only tags that every row renders are held to this: those outside any
 * section, or inside inverted sections over a column the file does not
 * have (always rendered).  A tag inside a section may never be reached,
 * and JSON records may differ from one another, so those are left to
 * each row's render; hd__fields_explain then adds to a row's "no value"
 * error what the row does have, so that the CLI, which folds errors of
 * one kind into one line, can still say "did you mean".
 *
 * Pure functions of their arguments; thread-safe.
 */
#ifndef HD_FIELDS_H
#define HD_FIELDS_H

#include "herald.h"
#include "key.h"
#include "message.h"
#include "source.h"

#include <jansson.h>

/* HD_OK, or HD_EMISSING with err naming the tag's place in the template
 * (or the recipients file, for --key) and what the file has instead.
 * key_field may be NULL.  src must have read its first record (CSV
 * columns are known from then). */
hd_status hd__fields_check(const hd_msgtmpl *t, const hd_source *src,
			   const char *key_field, hd_error *err);

/* A row's render failed with e: when it is a value the row lacks
 * entirely (not one that is empty), adds what the row has ("the row has
 * no field 'x'; did you mean 'y'?") or why {{env.NAME}} has no value. */
void hd__fields_explain(const hd_msgtmpl *t, json_t *record, hd_error *e);

/* Once the first record is read: the template reads the CSV header's
 * aliases (source.h), and the key is chosen (key.h), --key FIELD
 * naming a column by its alias too. */
void hd__fields_first(hd_msgtmpl *t, const hd_source *src,
		      const char *key_field, json_t *first, hd__keyspec *ks);

/* The header name a CSV alias stands for ("first_name" for a column
 * "First Name"), or name itself.  Borrowed. */
const char *hd__fields_column(const hd_source *s, const char *name);

/* A CSV file read with the wrong delimiter has one column whose name
 * holds the right one: that one (';', '\t' or '|'), else 0. */
char hd__fields_other_delimiter(const hd_source *s);

#endif
