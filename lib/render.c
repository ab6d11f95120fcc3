/*
 * render.c — herald render: the exact bytes one recipient would get.
 *
 * It reads the recipients until the wanted row (by number or key), builds
 * that row's message as a send would, and hands back the bytes and the
 * SMTP envelope.  Nothing is sent and nothing is written.
 */
#include "fields.h"
#include "inputs.h"
#include "key.h"

#include <stdlib.h>
#include <string.h>

/* The row's message as text, and its envelope. */
static hd_status format_message(const hd_message *msg, hd_buf *out, hd_buf *env)
{
	hd_status st;

	if (msg->kind != HD_MSG_EMAIL) {
		st = hd_request_format(out, &msg->http);
		return st == HD_OK ? hd_buf_puts(env, "") : st;
	}
	st = hd_buf_append(out, msg->email.data, msg->email.len);
	if (st == HD_OK)
		st = hd_buf_printf(env, "MAIL FROM:<%s>\n", msg->email.from);
	for (size_t i = 0; st == HD_OK && i < msg->email.nrcpt; i++)
		st = hd_buf_printf(env, "RCPT TO:<%s>\n", msg->email.rcpt[i]);
	return st;
}

static int match_id(const hd__keyspec *ks, const char *id, const char *key)
{
	char *want = hd__key_identity(ks, key);
	int same = want && id && strcmp(want, id) == 0;

	free(want);
	return same;
}

hd_status hd_render(const hd_run_config *cfg, long row, const char *key,
		    char **data, size_t *len, char **envelope, hd_error *err)
{
	hd_msgtmpl *tmpl = NULL;
	hd_source *src = NULL;
	hd__keyspec ks;
	json_t *rec = NULL;
	hd_message msg;
	hd_buf out = HD_BUF_INIT, env = HD_BUF_INIT;
	const char *campaign = cfg->campaign ? cfg->campaign : "render";
	hd_msgtmpl_opts mo = {.env_names = cfg->env_names,
			      .n_env = cfg->n_env,
			      .redirect = cfg->redirect,
			      .mail = &cfg->mail};
	int chosen = 0;
	hd_status st;

	*data = NULL;
	*envelope = NULL;
	*len = 0;
	memset(&msg, 0, sizeof(msg));
	memset(&ks, 0, sizeof(ks));
	hd_error_clear(err);
	st = hd__inputs_open(cfg, &mo, &tmpl, &src, err);
	while (st == HD_OK) {
		char *k, *id;
		hd_error kerr;
		int match;

		st = hd_source_next(src, &rec, err);
		if (st != HD_OK)
			break;
		if (!rec) {
			st = key ? hd_error_set(err, HD_EINVAL,
						cfg->recipients_path, 0, 0,
						"no row has the key '%s'", key)
				 : hd_error_set(err, HD_EINVAL,
						cfg->recipients_path, 0, 0,
						"there is no row %ld", row);
			break;
		}
		if (!chosen) {
			hd__fields_first(tmpl, src, cfg->key_field, rec, &ks);
			chosen = 1;
			st = hd__fields_check(tmpl, src, cfg->key_field, err);
			if (st != HD_OK)
				break;
		}
		st = hd__key_of(&ks, tmpl, rec, hd_source_row(src), &k, &id,
				&kerr);
		if (st == HD_ENOMEM)
			break;
		st = HD_OK;
		/* --key K matches the key as shown, or its identity */
		match =
		    key ? k && (strcmp(k, key) == 0 || match_id(&ks, id, key))
			: hd_source_row(src) == row;
		if (match) {
			st = hd_msgtmpl_build(tmpl, rec, campaign, id ? id : "",
					      hd_source_row(src), &msg, err);
			if (st != HD_OK && err)
				hd__fields_explain(tmpl, rec, err);
			free(id);
			free(k);
			break;
		}
		free(id);
		free(k);
		json_decref(rec);
		rec = NULL;
	}
	json_decref(rec);
	if (st == HD_OK)
		st = format_message(&msg, &out, &env);
	hd_message_clear(&msg);
	hd_source_free(src);
	hd_msgtmpl_free(tmpl);
	if (st != HD_OK) {
		hd_buf_free(&out);
		hd_buf_free(&env);
		return st;
	}
	*data = hd_buf_detach(&out, len);
	*envelope = hd_buf_detach(&env, NULL);
	return HD_OK;
}
