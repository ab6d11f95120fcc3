/*
 * curl_loop.c — the ceiling libcurl itself sets: the same message sent
 * COUNT times over CONNECTIONS kept-alive connections, with nothing else
 * around it (no template, no rendering, no report, no queue).
 *
 *   curl_loop [-t THREADS] [-c CONNECTIONS] [-n COUNT] [-d FILE] [-P] URL
 *   curl_loop -V                  print the libcurl version and exit
 *
 * URL is smtp://host:port (FILE is the whole message, sent as is from
 * <bench@example.com> to <user@example.com>) or http://host:port/path
 * (FILE is a JSON body, POSTed over HTTP/1.1 with Content-Type:
 * application/json).  Defaults: 1 thread, 1 connection, 1000 messages.
 *
 * Each thread owns one curl multi handle driving its share of the
 * connections: one easy handle per connection, set up once and put back
 * into the multi handle as soon as its transfer ends, so every connection
 * always has a message on it and is reused for the next (the multi
 * handle's connection cache, capped with CURLMOPT_MAX_TOTAL_CONNECTIONS).
 * Messages are shared out between threads the same way.
 *
 * A thread waits the way herald's workers do: libcurl says which sockets
 * to watch and when its next timer is due (CURLMOPT_SOCKETFUNCTION and
 * CURLMOPT_TIMERFUNCTION), epoll watches them, and
 * curl_multi_socket_action runs only the transfers whose socket is ready.
 * -P waits in curl_multi_poll and runs curl_multi_perform instead, which
 * looks at every socket and every transfer each time one moves.
 *
 * A transfer counts as sent when curl says CURLE_OK and the server
 * answered 2xx (HTTP) or 250 (SMTP).  Prints one line on stdout:
 *
 *   curl_loop: 20000 sent, 0 failed, 2 threads, 10 connections, 1.234 s
 *
 * and exits 1 if any message failed (the first failure is on stderr).
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

/* What every thread reads and nobody writes once the threads run. */
struct job {
	const char *url;
	int smtp;
	const char *data;
	size_t len;
	struct curl_slist *list; /* HTTP headers, or the SMTP recipient */
	int poll;		 /* -P */
};

/* One connection's easy handle and where its upload has got to. */
struct lane {
	CURL *h;
	size_t off;
	const struct job *job;
};

/* One thread: its share of the work, and what it counted. */
struct worker {
	pthread_t tid;
	const struct job *job;
	int conns;
	long count;
	long sent, failed;
	char first_error[256];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static size_t upload(char *buf, size_t size, size_t n, void *arg)
{
	struct lane *l = arg;
	size_t left = l->job->len - l->off, take = size * n;

	if (take > left)
		take = left;
	memcpy(buf, l->job->data + l->off, take);
	l->off += take;
	return take;
}

static int lane_init(struct lane *l, const struct job *job)
{
	CURL *h = curl_easy_init();

	l->h = h;
	l->off = 0;
	l->job = job;
	if (!h)
		return -1;
	curl_easy_setopt(h, CURLOPT_URL, job->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PRIVATE, l);
	if (job->smtp) {
		curl_easy_setopt(h, CURLOPT_MAIL_FROM, "<bench@example.com>");
		curl_easy_setopt(h, CURLOPT_MAIL_RCPT, job->list);
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, upload);
		curl_easy_setopt(h, CURLOPT_READDATA, l);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)job->len);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
				 (long)CURL_HTTP_VERSION_1_1);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, job->list);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, job->data);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)job->len);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	}
	return 0;
}

/* Counts one finished transfer as sent or failed. */
static void account(struct worker *w, struct lane *l, CURLcode rc)
{
	long code = 0;
	int ok;

	curl_easy_getinfo(l->h, CURLINFO_RESPONSE_CODE, &code);
	ok = rc == CURLE_OK &&
	     (l->job->smtp ? code == 250 : code >= 200 && code < 300);
	if (ok) {
		w->sent++;
		return;
	}
	if (w->failed++ == 0)
		snprintf(w->first_error, sizeof(w->first_error),
			 "curl error %d (%s), server code %ld", (int)rc,
			 curl_easy_strerror(rc), code);
}

/* ---- waiting with epoll: libcurl's socket interface ---------------------- */

struct events {
	int epfd;
	double timer_at; /* < 0: no timer */
};

static int sock_cb(CURL *h, curl_socket_t fd, int what, void *ud, void *sp)
{
	struct events *ev = ud;
	struct epoll_event e = {0};

	(void)h;
	(void)sp;
	if (what == CURL_POLL_REMOVE) {
		(void)epoll_ctl(ev->epfd, EPOLL_CTL_DEL, fd, NULL);
		return 0;
	}
	e.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) |
		   (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
	e.data.fd = fd;
	if (epoll_ctl(ev->epfd, EPOLL_CTL_MOD, fd, &e) == 0 ||
	    (errno == ENOENT &&
	     epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &e) == 0))
		return 0;
	return -1;
}

static int timer_cb(CURLM *m, long ms, void *ud)
{
	struct events *ev = ud;

	(void)m;
	ev->timer_at = ms < 0 ? -1.0 : now() + (double)ms / 1000.0;
	return 0;
}

/* Waits for a socket or the timer (1 s at most) and runs what is ready. */
static void wait_events(CURLM *m, struct events *ev)
{
	struct epoll_event got[64];
	int ms = 1000, n, running;

	if (ev->timer_at >= 0) {
		double left = ev->timer_at - now();

		ms = left <= 0 ? 0 : (int)(left * 1000.0) + 1;
		if (ms > 1000)
			ms = 1000;
	}
	n = epoll_wait(ev->epfd, got, 64, ms);
	for (int i = 0; i < n; i++) {
		int act = (got[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)
			       ? CURL_CSELECT_IN
			       : 0) |
			  (got[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0);

		curl_multi_socket_action(m, got[i].data.fd, act, &running);
	}
	if (ev->timer_at >= 0 && now() >= ev->timer_at) {
		ev->timer_at = -1.0;
		curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	CURLM *m = curl_multi_init();
	struct lane *lanes = calloc((size_t)w->conns, sizeof(*lanes));
	struct events ev = {epoll_create1(EPOLL_CLOEXEC), -1.0};
	long started = 0, done = 0;
	int running = 1;

	if (!m || !lanes || ev.epfd < 0) {
		snprintf(w->first_error, sizeof(w->first_error),
			 "out of memory");
		w->failed = w->count;
		goto out;
	}
	curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)w->conns);
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)w->conns);
	if (!w->job->poll) {
		curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, sock_cb);
		curl_multi_setopt(m, CURLMOPT_SOCKETDATA, &ev);
		curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, timer_cb);
		curl_multi_setopt(m, CURLMOPT_TIMERDATA, &ev);
	}
	for (int i = 0; i < w->conns; i++) {
		if (lane_init(&lanes[i], w->job) != 0) {
			snprintf(w->first_error, sizeof(w->first_error),
				 "curl_easy_init failed");
			w->failed = w->count;
			goto out;
		}
		if (started < w->count) {
			curl_multi_add_handle(m, lanes[i].h);
			started++;
		}
	}
	while (done < started) {
		CURLMsg *msg;
		int left;

		if (w->job->poll)
			curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct lane *l;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
					  (char **)&l);
			account(w, l, msg->data.result);
			done++;
			curl_multi_remove_handle(m, l->h);
			if (started < w->count) {
				l->off = 0;
				curl_multi_add_handle(m, l->h);
				started++;
			}
		}
		if (done == started)
			break;
		if (w->job->poll)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
		else
			wait_events(m, &ev);
	}
out:
	for (int i = 0; lanes && i < w->conns; i++)
		curl_easy_cleanup(lanes[i].h);
	free(lanes);
	curl_multi_cleanup(m);
	if (ev.epfd >= 0)
		close(ev.epfd);
	return NULL;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long size;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1))) {
		*len = fread(buf, 1, (size_t)size, f);
		buf[*len] = '\0';
	}
	fclose(f);
	return buf;
}

static int usage(void)
{
	fprintf(stderr, "usage: curl_loop [-t THREADS] [-c CONNECTIONS] "
			"[-n COUNT] [-d FILE] [-P] URL\n"
			"       curl_loop -V\n");
	return 64;
}

int main(int argc, char **argv)
{
	static const char http_body[] = "{\"event\": \"bench\"}";
	static const char smtp_msg[] = "From: <bench@example.com>\r\n"
				       "To: <user@example.com>\r\n"
				       "Subject: bench\r\n\r\nbench\r\n";
	struct job job = {0};
	struct worker *w;
	const char *file = NULL;
	char *data = NULL;
	long threads = 1, conns = 1, count = 1000, sent = 0, failed = 0;
	double t0, el;
	int opt, status = 0;

	while ((opt = getopt(argc, argv, "t:c:n:d:PV")) != -1) {
		switch (opt) {
		case 't':
			threads = atol(optarg);
			break;
		case 'c':
			conns = atol(optarg);
			break;
		case 'n':
			count = atol(optarg);
			break;
		case 'd':
			file = optarg;
			break;
		case 'P':
			job.poll = 1;
			break;
		case 'V':
			printf("%s\n", curl_version());
			return 0;
		default:
			return usage();
		}
	}
	if (optind != argc - 1 || threads < 1 || conns < threads || count < 1 ||
	    conns > 100000)
		return usage();
	job.url = argv[optind];
	job.smtp = strncmp(job.url, "smtp://", 7) == 0;
	if (!job.smtp && strncmp(job.url, "http://", 7) != 0) {
		fprintf(stderr, "curl_loop: URL must be smtp:// or http://\n");
		return 64;
	}
	if (file) {
		if (!(data = slurp(file, &job.len))) {
			fprintf(stderr, "curl_loop: %s: %s\n", file,
				strerror(errno));
			return 66;
		}
		job.data = data;
	} else {
		job.data = job.smtp ? smtp_msg : http_body;
		job.len = strlen(job.data);
	}
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) {
		fprintf(stderr, "curl_loop: curl_global_init failed\n");
		return 70;
	}
	job.list = curl_slist_append(
	    NULL,
	    job.smtp ? "<user@example.com>" : "Content-Type: application/json");
	w = calloc((size_t)threads, sizeof(*w));
	if (!w || !job.list) {
		fprintf(stderr, "curl_loop: out of memory\n");
		return 70;
	}
	t0 = now();
	for (long i = 0; i < threads; i++) {
		w[i].job = &job;
		w[i].conns = (int)(conns / threads + (i < conns % threads));
		w[i].count = count / threads + (i < count % threads);
		if (pthread_create(&w[i].tid, NULL, run, &w[i]) != 0) {
			fprintf(stderr, "curl_loop: pthread_create failed\n");
			return 70;
		}
	}
	for (long i = 0; i < threads; i++) {
		pthread_join(w[i].tid, NULL);
		sent += w[i].sent;
		failed += w[i].failed;
		if (w[i].failed && !status) {
			fprintf(stderr, "curl_loop: %s\n", w[i].first_error);
			status = 1;
		}
	}
	el = now() - t0;
	printf("curl_loop: %ld sent, %ld failed, %ld threads, %ld "
	       "connections, %.3f s\n",
	       sent, failed, threads, conns, el);
	curl_slist_free_all(job.list);
	free(w);
	free(data);
	curl_global_cleanup();
	return status;
}
