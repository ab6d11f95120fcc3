/*
 * render.c — herald render: the exact bytes one recipient would get.
 *
 * It reads the recipients until the wanted row (by number or key), builds
 * that row's message as a send would, and hands back the bytes and the
 * SMTP envelope.  Nothing is sent and nothing is written.
 */
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
	int chosen = 0;
	hd_status st;

	*data = NULL;
	*envelope = NULL;
	*len = 0;
	memset(&msg, 0, sizeof(msg));
	memset(&ks, 0, sizeof(ks));
	hd_error_clear(err);
	st = hd__inputs_open(cfg, &tmpl, &src, err);
	while (st == HD_OK) {
		char *k, *id;
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
			st = hd__key_choose(&ks, cfg->key_field, rec,
					    hd_source_name(src),
					    hd_source_line(src), err);
			if (st != HD_OK)
				break;
			chosen = 1;
		}
		k = hd__key_of(&ks, rec);
		match =
		    key ? k && strcmp(k, key) == 0 : hd_source_row(src) == row;
		if (match) {
			id = hd__key_identity(&ks, k);
			st = hd_msgtmpl_build(tmpl, rec, campaign, id ? id : "",
					      hd_source_row(src), &msg, err);
			free(id);
			free(k);
			break;
		}
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
