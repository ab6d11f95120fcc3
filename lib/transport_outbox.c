/*
 * transport_outbox.c — the outbox and dry-run transports.
 *
 * The outbox writes each message to DIR/NNNNNN.eml (or .http), one file per
 * input row, with exactly the bytes SMTP would send (for email) or the
 * request in .http form (for HTTP).  Files are written in place: a
 * temporary name and a rename per message tripled the cost on the
 * filesystems we measured, and the report (written after the file is
 * closed) is what says a message is complete.
 *
 * Messages hold recipients' data: folders the outbox makes are 0700 and
 * files 0600, whatever the umask.
 *
 * The dry-run transport accepts everything and touches nothing: the run
 * still renders and validates every message.
 */
#include "fdio.h"
#include "message.h"
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p: creates dir and its missing parents. */
static int make_dirs(const char *dir)
{
	char path[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return -1;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static hd_status outbox_check(const hd_transport_config *cfg, hd_error *err)
{
	struct stat st;

	if (!cfg->outbox_dir || !cfg->outbox_dir[0])
		return hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				    "no outbox folder given");
	if (make_dirs(cfg->outbox_dir) != 0 ||
	    stat(cfg->outbox_dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    access(cfg->outbox_dir, W_OK) != 0)
		return hd_error_set(err, HD_ECREATE, cfg->outbox_dir, 0, 0,
				    "cannot create the outbox folder: %s",
				    strerror(errno ? errno : ENOTDIR));
	return HD_OK;
}

struct outbox_conn {
	const char *dir;
	hd_buf buf; /* reused for every .http rendering */
};

static hd_status outbox_open(const hd_transport_config *cfg, unsigned worker,
			     void **conn, hd_error *err)
{
	struct outbox_conn *c = calloc(1, sizeof(*c));

	(void)worker;
	if (!c)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	c->dir = cfg->outbox_dir;
	hd_buf_init(&c->buf);
	*conn = c;
	return HD_OK;
}

static void outbox_send(void *conn, const hd_message *msg, long row,
			hd_send_result *res)
{
	struct outbox_conn *c = conn;
	char path[4096];
	const char *data;
	size_t len;
	int fd, bad;

	if (msg->kind == HD_MSG_EMAIL) {
		data = msg->email.data;
		len = msg->email.len;
	} else {
		hd_buf_reset(&c->buf);
		if (hd_request_format(&c->buf, &msg->http) != HD_OK) {
			res->status = HD_ETRANSIENT;
			snprintf(res->error, sizeof(res->error),
				 "out of memory");
			return;
		}
		data = c->buf.data;
		len = c->buf.len;
	}
	snprintf(path, sizeof(path), "%s/%06ld.%s", c->dir, row,
		 msg->kind == HD_MSG_EMAIL ? "eml" : "http");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		res->status = HD_EPERMANENT;
		snprintf(res->error, sizeof(res->error), "cannot write %s: %s",
			 path, strerror(errno));
		return;
	}
	bad = hd__write_all(fd, data, len) != 0;
	if (close(fd) != 0)
		bad = 1;
	if (bad) {
		res->status = HD_EPERMANENT;
		snprintf(res->error, sizeof(res->error), "cannot write %s: %s",
			 path, strerror(errno));
		return;
	}
	res->status = HD_OK;
	snprintf(res->response, sizeof(res->response), "written to %s", path);
}

static void outbox_close(void *conn)
{
	struct outbox_conn *c = conn;

	if (!c)
		return;
	hd_buf_free(&c->buf);
	free(c);
}

const hd_transport hd_transport_outbox = {
    .name = "outbox",
    .check = outbox_check,
    .open = outbox_open,
    .send = outbox_send,
    .close = outbox_close,
};

static hd_status dryrun_open(const hd_transport_config *cfg, unsigned worker,
			     void **conn, hd_error *err)
{
	(void)cfg;
	(void)worker;
	(void)err;
	*conn = NULL;
	return HD_OK;
}

static void dryrun_send(void *conn, const hd_message *msg, long row,
			hd_send_result *res)
{
	(void)conn;
	(void)msg;
	(void)row;
	res->status = HD_OK;
}

static void dryrun_close(void *conn)
{
	(void)conn;
}

const hd_transport hd_transport_dryrun = {
    .name = "dry-run",
    .check = NULL,
    .open = dryrun_open,
    .send = dryrun_send,
    .close = dryrun_close,
};
