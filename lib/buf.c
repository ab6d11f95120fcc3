/* buf.c — growable byte buffer. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hd_buf_init(hd_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

hd_status hd_buf_reserve(hd_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > SIZE_MAX - b->len - 1)
		return HD_ENOMEM;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return HD_OK;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return HD_ENOMEM;
	b->data = p;
	b->cap = cap;
	return HD_OK;
}

hd_status hd__buf_append_grow(hd_buf *b, const void *p, size_t n)
{
	if (hd_buf_reserve(b, n) != HD_OK)
		return HD_ENOMEM;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return HD_OK;
}

size_t hd_format_integer(char buf[24], long long v)
{
	char digits[24], *p = digits + sizeof(digits);
	/* the magnitude in unsigned arithmetic, so that the least value
	 * has one too */
	unsigned long long u =
	    v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	size_t n;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	n = (size_t)(digits + sizeof(digits) - p);
	memcpy(buf, p, n);
	buf[n] = '\0';
	return n;
}

hd_status hd_buf_put_long(hd_buf *b, long v)
{
	char num[24];
	size_t n = hd_format_integer(num, v);

	return hd_buf_append(b, num, n);
}

hd_status hd_buf_printf(hd_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	/* most lines fit in the room there is: one pass then */
	if (b->cap > b->len + 1) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		n = vsnprintf(b->data + b->len, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->data[b->len] = '\0';
			return HD_EINVAL;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return HD_OK;
		}
		b->data[b->len] = '\0';
	} else {
		va_start(ap, fmt);
		n = vsnprintf(NULL, 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return HD_EINVAL;
	}
	if (hd_buf_reserve(b, (size_t)n) != HD_OK)
		return HD_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return HD_OK;
}

void hd_buf_reset(hd_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

char *hd_buf_detach(hd_buf *b, size_t *len)
{
	char *p = b->data;

	if (!p) {
		p = calloc(1, 1);
		if (len)
			*len = 0;
		return p;
	}
	if (len)
		*len = b->len;
	hd_buf_init(b);
	return p;
}

void hd_buf_free(hd_buf *b)
{
	if (!b)
		return;
	free(b->data);
	hd_buf_init(b);
}
