/* curl_abort.c — the progress callback and the socket registry that end a
 * run's transfers on abort (curl_abort.h). */
#include "curl_abort.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int hd__curl_abort_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow,
		      curl_off_t ultotal, curl_off_t ulnow)
{
	const atomic_int *abort_flag = ud;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return abort_flag && atomic_load(abort_flag) ? 1 : 0;
}

void hd__sockets_init(hd__sockets *s)
{
	pthread_mutex_init(&s->mu, NULL);
	s->fds = NULL;
	s->n = s->cap = 0;
	s->cut = 0;
}

void hd__sockets_destroy(hd__sockets *s)
{
	pthread_mutex_destroy(&s->mu);
	free(s->fds);
	s->fds = NULL;
}

static curl_socket_t open_cb(void *ud, curlsocktype purpose,
			     struct curl_sockaddr *a)
{
	hd__sockets *s = ud;
	curl_socket_t fd;

	(void)purpose;
	pthread_mutex_lock(&s->mu);
	if (s->cut) {
		pthread_mutex_unlock(&s->mu);
		return CURL_SOCKET_BAD;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		curl_socket_t *fds = realloc(s->fds, cap * sizeof(*fds));
		if (!fds) {
			pthread_mutex_unlock(&s->mu);
			return CURL_SOCKET_BAD;
		}
		s->fds = fds;
		s->cap = cap;
	}
	fd = socket(a->family, a->socktype, a->protocol);
	if (fd != CURL_SOCKET_BAD)
		s->fds[s->n++] = fd;
	pthread_mutex_unlock(&s->mu);
	return fd;
}

static int close_cb(void *ud, curl_socket_t fd)
{
	hd__sockets *s = ud;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n; i++) {
		if (s->fds[i] == fd) {
			s->fds[i] = s->fds[--s->n];
			break;
		}
	}
	/* closed under the lock: cut never shuts down a number that a new
	 * socket of someone else's may get */
	close(fd);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void hd__sockets_use(CURL *h, hd__sockets *s)
{
	if (!s)
		return;
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_cb);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, s);
	curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, close_cb);
	curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, s);
}

void hd__sockets_cut(hd__sockets *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->cut = 1;
	for (size_t i = 0; i < s->n; i++)
		shutdown(s->fds[i], SHUT_RDWR);
	pthread_mutex_unlock(&s->mu);
}
