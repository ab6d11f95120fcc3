/*
 * source.c — an open source: its table of operations (source_int.h), the
 * row count, the sticky error and the "no recipients" rule, whatever the
 * kind of source.
 */
#include "source_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hd_source {
	const hd__source_ops *ops;
	void *state; /* the kind's, private to its file */
	char *name;  /* path as given, "<stdin>", a URL */
	hd_format format;
	int once;	  /* no second pass (standard input read as it
			     comes) */
	long row;	  /* records returned since open/rewind */
	long line;	  /* line where the last returned record starts */
	int at_end;	  /* the end was reached and reported */
	hd_status failed; /* sticky error, HD_OK when none */
	hd_error ferr;
};

hd_status hd__source_new(const hd__source_ops *ops, void *state,
			 const char *name, hd_format format, int once,
			 hd_source **out, hd_error *err)
{
	hd_source *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s || !(s->name = strdup(name ? name : ""))) {
		free(s);
		ops->free(state);
		return hd_error_set(err, HD_ENOMEM, name, 0, 0, NULL);
	}
	s->ops = ops;
	s->state = state;
	s->format = format;
	s->once = once || !ops->rewind;
	hd_error_clear(&s->ferr);
	*out = s;
	return HD_OK;
}

hd_status hd_source_rewind(hd_source *s, hd_error *err)
{
	hd_status rc;

	if (!s)
		return hd_error_set(err, HD_EINVAL, NULL, 0, 0, NULL);
	if (s->once)
		return hd_error_set(err, HD_EUSAGE, s->name, 0, 0,
				    "%s can be read once only", s->ops->name);
	s->row = 0;
	s->line = 0;
	s->at_end = 0;
	s->failed = HD_OK;
	hd_error_clear(&s->ferr);
	rc = s->ops->rewind(s->state, &s->ferr);
	if (rc != HD_OK) {
		/* next() repeats this until a rewind succeeds. */
		s->failed = rc;
		if (err)
			*err = s->ferr;
	}
	return rc;
}

/* hd_source_next, and with text hd__source_next_text. */
static hd_status next(hd_source *s, json_t **record, hd__record_text *text,
		      hd_error *err)
{
	hd_error e;
	hd_status rc;
	long line = 0;

	if (record)
		*record = NULL;
	if (text)
		memset(text, 0, sizeof(*text));
	if (!s || !record)
		return hd_error_set(err, HD_EINVAL, NULL, 0, 0, NULL);
	if (s->failed != HD_OK) {
		if (err)
			*err = s->ferr;
		return s->failed;
	}
	if (s->at_end)
		return HD_OK;
	hd_error_clear(&e);
	if (text && s->ops->next_text)
		rc = s->ops->next_text(s->state, record, text, &line, &e);
	else
		rc = s->ops->next(s->state, record, &line, &e);
	if (rc == HD_EAGAIN) {
		/* nothing now; not an error, not the end */
		if (err)
			*err = e;
		return rc;
	}
	if (rc == HD_OK && (*record || (text && text->text))) {
		s->row++;
		s->line = line;
		return HD_OK;
	}
	if (rc == HD_OK) {
		if (s->row == 0)
			rc = hd_error_set(&e, HD_EPARSE, s->name, 0, 0,
					  "no recipients in file");
		else
			s->at_end = 1;
	}
	if (rc != HD_OK) {
		if (*record) {
			json_decref(*record);
			*record = NULL;
		}
		if (text)
			hd__record_text_clear(text);
		s->failed = rc;
		s->ferr = e;
		s->ferr.code = rc;
		if (err)
			*err = s->ferr;
	}
	return rc;
}

hd_status hd_source_next(hd_source *s, json_t **record, hd_error *err)
{
	return next(s, record, NULL, err);
}

hd_status hd__source_next_text(hd_source *s, json_t **record,
			       hd__record_text *text, hd_error *err)
{
	return next(s, record, text, err);
}

void hd__record_text_clear(hd__record_text *t)
{
	free(t->text);
	memset(t, 0, sizeof(*t));
}

void hd__source_fail(hd_source *s, const hd_error *err)
{
	if (s->failed != HD_OK)
		return;
	s->ferr = *err;
	s->failed = err->code != HD_OK ? err->code : HD_EPARSE;
	s->ferr.code = s->failed;
}

int hd__source_acks(const hd_source *s)
{
	return s && s->ops->ack;
}

hd_status hd__source_ack(hd_source *s, const char *where, hd__ack how,
			 const char *outcome, hd_error *err)
{
	if (!s->ops->ack)
		return HD_OK;
	return s->ops->ack(s->state, where, how, outcome, err);
}

void hd__source_where(const hd_source *s, char *out, size_t size)
{
	if (size)
		out[0] = '\0';
	if (s && s->ops->where)
		s->ops->where(s->state, out, size);
}

void hd__source_on_wait(hd_source *s, int (*fn)(void *ctx), void *ctx)
{
	if (s && s->ops->on_wait)
		s->ops->on_wait(s->state, fn, ctx);
}

int hd__source_can_rewind(const hd_source *s)
{
	return s && !s->once;
}

void *hd__source_state(hd_source *s)
{
	return s ? s->state : NULL;
}

int hd_source_progress(const hd_source *s, long long *done, long long *size)
{
	*done = *size = 0;
	if (!s || !s->ops->progress)
		return 0;
	return s->ops->progress(s->state, done, size);
}

long hd_source_row(const hd_source *s)
{
	return s ? s->row : 0;
}

long hd_source_line(const hd_source *s)
{
	return s ? s->line : 0;
}

const char *hd_source_name(const hd_source *s)
{
	return s ? s->name : "";
}

hd_format hd_source_format(const hd_source *s)
{
	return s ? s->format : HD_FORMAT_AUTO;
}

/* The CSV state's columns, or NULL (another kind of source). */
static const json_t *columns(const hd_source *s)
{
	return s && s->ops == &hd__source_csv ? hd__csv_columns(s->state)
					      : NULL;
}

size_t hd_source_ncolumns(const hd_source *s)
{
	const json_t *c = columns(s);

	return c ? json_array_size(c) : 0;
}

const char *hd_source_column(const hd_source *s, size_t i)
{
	return json_string_value(
	    json_array_get(json_array_get(columns(s), i), 0));
}

const char *hd_source_column_alias(const hd_source *s, size_t i)
{
	return json_string_value(
	    json_array_get(json_array_get(columns(s), i), 1));
}

json_t *hd_source_aliases(const hd_source *s)
{
	json_t *out = NULL;

	for (size_t i = 0; i < hd_source_ncolumns(s); i++) {
		const char *a = hd_source_column_alias(s, i);
		if (!a)
			continue;
		if (!out && !(out = json_object()))
			return NULL;
		if (json_object_set_new(out, a,
					json_string(hd_source_column(s, i)))) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

void hd_source_passed_over(const hd_source *s, hd_source_leftovers *out)
{
	memset(out, 0, sizeof(*out));
	if (s && s->ops == &hd__source_csv)
		hd__csv_passed_over(s->state, out);
}

size_t hd__source_buffer_bytes(const hd_source *s)
{
	if (!s || !s->ops->held)
		return 0;
	return s->ops->held(s->state);
}

void hd_source_free(hd_source *s)
{
	if (!s)
		return;
	s->ops->free(s->state);
	free(s->name);
	free(s);
}
