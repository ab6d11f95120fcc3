/* key.c — choosing the recipient key and reading it from a row. */
#include "key.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hd_status hd__key_choose(hd__keyspec *ks, const char *field, json_t *first,
			 const char *source_name, long line, hd_error *err)
{
	const char *k = field;

	if (!k) {
		void *it = json_object_iter(first);
		if (json_object_get(first, "email"))
			k = "email";
		else if (it)
			k = json_object_iter_key(it);
		else
			return hd_error_set(err, HD_EPARSE, source_name, line,
					    0,
					    "the first record has no fields");
	}
	snprintf(ks->field, sizeof(ks->field), "%s", k);
	snprintf(ks->desc, sizeof(ks->desc), "the field '%s'", ks->field);
	return HD_OK;
}

char *hd__key_of(const hd__keyspec *ks, json_t *record)
{
	json_t *v = json_object_get(record, ks->field);

	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return json_string_length(v) ? strdup(json_string_value(v))
					     : NULL;
	if (json_is_object(v) || json_is_array(v))
		return NULL;
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

char *hd__key_identity(const hd__keyspec *ks, const char *key)
{
	(void)ks;
	return key ? strdup(key) : NULL;
}
