/* key.c — choosing the recipient key and reading it from a row. */
#include "key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Is name "email" (or e-mail, e_mail, E-Mail...)? */
static int is_email_name(const char *name)
{
	char n[16];
	size_t k = 0;

	for (; *name && k < sizeof(n) - 1; name++)
		if (*name != '-' && *name != '_' && *name != ' ')
			n[k++] = *name;
	n[k] = '\0';
	return *name == '\0' && strcasecmp(n, "email") == 0;
}

/* The first field of first whose name passes test, or NULL. */
static const char *find_field(json_t *first, int (*test)(const char *))
{
	const char *name;
	json_t *v;

	json_object_foreach(first, name, v) if (test(name)) return name;
	return NULL;
}

static int is_id_name(const char *name)
{
	return strcasecmp(name, "id") == 0;
}

static void set_field(hd__keyspec *ks, const char *field, int fold,
		      const char *why)
{
	ks->mode = HD__KEY_FIELD;
	ks->fold = fold;
	snprintf(ks->field, sizeof(ks->field), "%s", field);
	snprintf(ks->desc, sizeof(ks->desc), "the field '%s'%s%s", ks->field,
		 fold ? ", compared without regard to case" : "", why);
}

void hd__key_choose(hd__keyspec *ks, const char *field, const hd_msgtmpl *t,
		    json_t *first)
{
	const char *f;

	memset(ks, 0, sizeof(*ks));
	if (field) {
		set_field(ks, field, 0, " (--key)");
	} else if (hd_msgtmpl_kind(t) == HD_MSG_EMAIL) {
		ks->mode = HD__KEY_ENVELOPE;
		ks->fold = 1;
		snprintf(ks->desc, sizeof(ks->desc),
			 "the envelope recipients (To, Cc, Bcc), compared "
			 "without regard to case");
	} else if ((f = find_field(first, is_email_name)) != NULL) {
		set_field(ks, f, 1, "");
	} else if ((f = find_field(first, is_id_name)) != NULL) {
		set_field(ks, f, 0, "");
	} else {
		ks->mode = HD__KEY_RECORD;
		snprintf(ks->desc, sizeof(ks->desc),
			 "the whole record (no email or id field; --key "
			 "FIELD names one)");
	}
}

char *hd__key_identity(const hd__keyspec *ks, const char *key)
{
	char *id = key ? strdup(key) : NULL;

	if (id && ks->fold)
		for (char *p = id; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
	return id;
}

/* A field's value as key text: a string as is, a number or boolean as
 * JSON; NULL when missing, null, empty or not a scalar. */
static char *field_text(json_t *v)
{
	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return json_string_length(v) ? strdup(json_string_value(v))
					     : NULL;
	if (json_is_object(v) || json_is_array(v))
		return NULL;
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

hd_status hd__key_of(const hd__keyspec *ks, const hd_msgtmpl *t, json_t *record,
		     long row, char **key, char **id, hd_error *err)
{
	hd_status st = HD_OK;

	*key = *id = NULL;
	switch (ks->mode) {
	case HD__KEY_ENVELOPE:
		st = hd_msgtmpl_recipients(t, record, row, key, err);
		break;
	case HD__KEY_RECORD:
		*key = json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS);
		if (!*key)
			st = HD_ENOMEM;
		break;
	default:
		*key = field_text(json_object_get(record, ks->field));
		if (!*key) {
			st = hd_error_set(err, HD_EMISSING, NULL, 0, 0,
					  "no recipient key: the field is "
					  "missing or empty");
			hd_error_set_field(err, ks->field);
		}
		break;
	}
	if (st == HD_OK && !(*id = hd__key_identity(ks, *key)))
		st = HD_ENOMEM;
	if (st != HD_OK) {
		free(*key);
		*key = NULL;
		if (st == HD_ENOMEM)
			hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	}
	return st;
}
