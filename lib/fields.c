/* fields.c — the template's names against the recipients file's fields. */
#include "fields.h"

#include <stdio.h>
#include <string.h>

#define COLUMNS_SHOWN 400 /* bytes of the column list in a message */

struct check {
	const hd_msgtmpl *t;
	const hd_source *src;
	int csv;
	hd_error *err;
	hd_status st;
};

/* Columns then aliases, for hd_nearest. */
static const char *column_or_alias(void *ctx, size_t i)
{
	const hd_source *s = ctx;
	size_t n = hd_source_ncolumns(s);

	return i < n ? hd_source_column(s, i)
		     : hd_source_column_alias(s, i - n);
}

static int is_column(const hd_source *s, const char *p, size_t n)
{
	for (size_t i = 0; i < 2 * hd_source_ncolumns(s); i++) {
		const char *c = column_or_alias((void *)s, i);
		if (c && strlen(c) == n && !memcmp(c, p, n))
			return 1;
	}
	return 0;
}

/* "email, First Name (first_name), ..." into out. */
static void list_columns(const hd_source *s, char *out, size_t size)
{
	size_t n = hd_source_ncolumns(s), used = 0, i;

	out[0] = '\0';
	for (i = 0; i < n && used < COLUMNS_SHOWN && used + 1 < size; i++) {
		const char *a = hd_source_column_alias(s, i);
		int w = snprintf(out + used, size - used, "%s%s%s%s%s",
				 i ? ", " : "", hd_source_column(s, i),
				 a ? " (" : "", a ? a : "", a ? ")" : "");
		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (used >= size)
		used = size - 1;
	if (i < n)
		snprintf(out + used, size - used, ", and %zu more", n - i);
}

char hd__fields_other_delimiter(const hd_source *s)
{
	static const char candidates[] = ";\t|";
	const char *name = hd_source_column(s, 0);

	if (hd_source_ncolumns(s) != 1 || !name)
		return 0;
	for (const char *c = candidates; *c; c++)
		if (strchr(name, *c))
			return *c;
	return 0;
}

/* Appends the delimiter hint to out, when it applies. */
static void delimiter_hint(const hd_source *s, char *out, size_t size)
{
	char d = hd__fields_other_delimiter(s);
	size_t n = strlen(out);

	if (d)
		snprintf(out + n, size - n,
			 "; %s has one column, so it may be separated by "
			 "'%s' rather than ',': give --delimiter %s",
			 hd_source_name(s), d == '\t' ? "tab" : (char[]){d, 0},
			 d == '\t'  ? "tab"
			 : d == ';' ? "';'"
				    : "'|'");
}

/* No such column: one error with the columns there are. */
static hd_status no_column(const hd_source *s, const char *name, hd_error *err,
			   const char *file, long line, long column,
			   const char *what)
{
	char cols[COLUMNS_SHOWN + 64], msg[sizeof(err->msg)];
	/* a file read with the wrong delimiter has no near name */
	const char *near = hd__fields_other_delimiter(s)
			       ? NULL
			       : hd_nearest(name, 2 * hd_source_ncolumns(s),
					    column_or_alias, (void *)s);
	int n;

	list_columns(s, cols, sizeof(cols));
	n = snprintf(msg, sizeof(msg), "%s%sno column '%s' in %s", what,
		     what[0] ? ": " : "", name, hd_source_name(s));
	if (n > 0 && near && (size_t)n < sizeof(msg))
		n += snprintf(msg + n, sizeof(msg) - (size_t)n,
			      "; did you mean '%s'?", near);
	if (n > 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, " (its columns: %s)",
			 cols);
	delimiter_hint(s, msg, sizeof(msg));
	hd_error_set(err, HD_EMISSING, file, line, column, "%s", msg);
	hd_error_set_field(err, name);
	return HD_EMISSING;
}

/* Why {{env.NAME}} cannot render, or NULL when it can.  The variables
 * --env allowed but that are not set are null in the env object. */
static const char *env_problem(const hd_msgtmpl *t, const char *name)
{
	json_t *env = hd__msgtmpl_env(t);
	json_t *v = env ? json_object_get(env, name) : NULL;

	if (json_is_string(v) && json_string_length(v))
		return NULL;
	if (json_is_string(v))
		return "environment variable %s is empty";
	return v ? "environment variable %s is not set"
		 : "templates read only the environment variables --env "
		   "names: give --env %s";
}

/* {{env.NAME}}: NAME into out (the part after "env."). */
static void env_name(const char *tag, char *out, size_t size)
{
	const char *p = tag + 4; /* "env." */

	snprintf(out, size, "%.*s", (int)strcspn(p, "."), p);
}

static int visit(void *ctx, const hd_tmpl_tag *tag)
{
	struct check *c = ctx;
	int env =
	    tag->head && tag->head_len == 3 && !memcmp(tag->head, "env", 3);
	char head[128];

	if (c->st != HD_OK || !tag->head)
		return 0;
	snprintf(head, sizeof(head), "%.*s", (int)tag->head_len, tag->head);
	if (tag->kind == HD_TMPL_SECTION)
		return 0; /* it may never be rendered */
	if (tag->kind == HD_TMPL_INVERTED)
		/* over a column no row has: always rendered */
		return c->csv && !env &&
		       !hd__msgtmpl_provides(c->t, tag->head, tag->head_len) &&
		       !is_column(c->src, tag->head, tag->head_len);
	if (tag->optional)
		return 0;
	if (env && tag->nparts >= 2 &&
	    (hd__msgtmpl_env(c->t) ||
	     (c->csv && !is_column(c->src, "env", 3)))) {
		char name[128];
		const char *why;
		env_name(tag->name, name, sizeof(name));
		why = env_problem(c->t, name);
		if (why) {
			char text[256];
			snprintf(text, sizeof(text), why, name);
			c->st =
			    hd_error_set(c->err, HD_EMISSING, tag->file,
					 tag->line, tag->column, "%s", text);
			hd_error_set_field(c->err, tag->name);
		}
		return 0;
	}
	if (!c->csv || hd__msgtmpl_provides(c->t, tag->head, tag->head_len))
		return 0;
	if (!is_column(c->src, tag->head, tag->head_len)) {
		c->st = no_column(c->src, head, c->err, tag->file, tag->line,
				  tag->column, "");
	} else if (tag->nparts > 1) {
		c->st = hd_error_set(
		    c->err, HD_EMISSING, tag->file, tag->line, tag->column,
		    "'%s' is a column of %s, and a CSV value is text, which "
		    "has no '%s' in it",
		    head, hd_source_name(c->src),
		    tag->name + tag->head_len + 1);
		hd_error_set_field(c->err, tag->name);
	}
	return 0;
}

void hd__fields_first(hd_msgtmpl *t, const hd_source *src,
		      const char *key_field, json_t *first, hd__keyspec *ks)
{
	hd__msgtmpl_set_aliases(t, hd_source_aliases(src));
	hd__key_choose(ks, hd__fields_column(src, key_field), t, first);
}

const char *hd__fields_column(const hd_source *s, const char *name)
{
	for (size_t i = 0; name && i < hd_source_ncolumns(s); i++) {
		const char *a = hd_source_column_alias(s, i);
		if (a && !strcmp(a, name))
			return hd_source_column(s, i);
	}
	return name;
}

hd_status hd__fields_check(const hd_msgtmpl *t, const hd_source *src,
			   const char *key_field, hd_error *err)
{
	struct check c = {t, src, hd_source_ncolumns(src) > 0, err, HD_OK};

	if (c.csv && key_field && !is_column(src, key_field, strlen(key_field)))
		return no_column(src, key_field, err, hd_source_name(src), 1, 0,
				 "--key");
	hd__msgtmpl_walk(t, visit, &c);
	return c.st;
}

/* The keys of a record, for hd_nearest. */
struct keys {
	const char *k[64];
	size_t n;
};

static const char *key_at(void *ctx, size_t i)
{
	return ((const struct keys *)ctx)->k[i];
}

void hd__fields_explain(const hd_msgtmpl *t, json_t *record, hd_error *e)
{
	static const char value_of[] = "no value for {{";
	char head[128], text[300] = "";
	const char *name;
	struct keys keys = {.n = 0};
	size_t n = strlen(e->msg);
	json_t *v;

	if (e->code != HD_EMISSING || !e->field[0] || !json_is_object(record))
		return;
	if (strncmp(e->msg, value_of, sizeof(value_of) - 1) == 0)
		snprintf(head, sizeof(head), "%.*s",
			 (int)strcspn(e->field, "."), e->field);
	else
		snprintf(head, sizeof(head), "%s", e->field); /* --key */
	if (!strcmp(head, "env") &&
	    (hd__msgtmpl_env(t) || !json_object_get(record, "env"))) {
		char envname[128];
		const char *why;
		if (strncmp(e->field, "env.", 4) != 0)
			return;
		env_name(e->field, envname, sizeof(envname));
		why = env_problem(t, envname);
		if (!why)
			return;
		snprintf(text, sizeof(text), why, envname);
		snprintf(e->msg + n, sizeof(e->msg) - n, "; %s", text);
		return;
	}
	if (hd__msgtmpl_provides(t, head, strlen(head)) ||
	    json_object_get(record, head))
		return; /* there, but empty or null: the data's own problem */
	json_object_foreach(record, name, v)
	{
		if (keys.n < sizeof(keys.k) / sizeof(keys.k[0]))
			keys.k[keys.n++] = name;
	}
	name = hd_nearest(head, keys.n, key_at, &keys);
	if (name)
		snprintf(text, sizeof(text), "; did you mean '%s'?", name);
	snprintf(e->msg + n, sizeof(e->msg) - n,
		 "; the row has no field '%s'%s", head, text);
}
