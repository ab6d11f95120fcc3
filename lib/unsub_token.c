/* unsub_token.c — one-click unsubscribe tokens; see unsub.h. */
#include "unsub.h"

#include "encode.h"
#include "escape.h"
#include "secret.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_FILE_MAX 4096
#define MAC_LEN 16
#define PREFIX "u1."
#define DOMAIN "herald-unsubscribe-1"

struct hd_unsub_secret {
	size_t len;
	char bytes[]; /* wiped when freed */
};

hd_status hd__unsub_secret_load(const char *path, hd_unsub_secret **out,
				hd_error *err)
{
	char *text = NULL;
	size_t len = 0, n;
	hd_unsub_secret *s;
	hd_status st;

	*out = NULL;
	st = hd__secret_read(path, "unsubscribe secret", SECRET_FILE_MAX, &text,
			     &len, err);
	if (st != HD_OK)
		return st;
	n = len;
	while (n && strchr(" \t\r\n", text[n - 1]))
		n--;
	if (n < HD_UNSUB_SECRET_MIN) {
		hd__secret_free(text, len);
		return hd_error_set(err, HD_ECONFIG, path, 0, 0,
				    "the unsubscribe secret is shorter than "
				    "%d bytes (make one with: head -c 32 "
				    "/dev/urandom | base64 > FILE)",
				    HD_UNSUB_SECRET_MIN);
	}
	s = malloc(sizeof(*s) + n);
	if (s) {
		s->len = n;
		memcpy(s->bytes, text, n);
	}
	hd__secret_free(text, len);
	if (!s)
		return hd_error_set(err, HD_ENOMEM, path, 0, 0, NULL);
	*out = s;
	return HD_OK;
}

void hd__unsub_secret_free(hd_unsub_secret *s)
{
	if (!s)
		return;
	hd__secret_free((char *)s, sizeof(*s) + s->len);
}

static hd_status mac(const hd_unsub_secret *s, const char *campaign,
		     size_t clen, const char *key, size_t klen,
		     unsigned char out[32])
{
	hd_buf msg = HD_BUF_INIT;
	unsigned int n = 0;
	hd_status st = hd_buf_append(&msg, DOMAIN, sizeof(DOMAIN));

	/* NUL separators: ("ab","c") and ("a","bc") differ */
	if (st == HD_OK)
		st = hd_buf_append(&msg, campaign, clen);
	if (st == HD_OK)
		st = hd_buf_putc(&msg, '\0');
	if (st == HD_OK)
		st = hd_buf_append(&msg, key, klen);
	if (st == HD_OK &&
	    !HMAC(EVP_sha256(), s->bytes, (int)s->len,
		  (const unsigned char *)msg.data, msg.len, out, &n))
		st = HD_ENOMEM;
	hd_buf_free(&msg);
	return st;
}

hd_status hd__unsub_token(const hd_unsub_secret *s, const char *campaign,
			  const char *key, hd_buf *out)
{
	unsigned char m[32];
	size_t len0 = out->len;
	size_t clen = strlen(campaign), klen = strlen(key);
	hd_status st = mac(s, campaign, clen, key, klen, m);

	if (st == HD_OK)
		st = hd_buf_puts(out, PREFIX);
	if (st == HD_OK)
		st = hd_base64url_encode(out, campaign, clen);
	if (st == HD_OK)
		st = hd_buf_putc(out, '.');
	if (st == HD_OK)
		st = hd_base64url_encode(out, key, klen);
	if (st == HD_OK)
		st = hd_buf_putc(out, '.');
	if (st == HD_OK)
		st = hd_base64url_encode(out, m, MAC_LEN);
	if (st != HD_OK) {
		out->len = len0;
		if (out->data)
			out->data[len0] = '\0';
	}
	return st;
}

/* Printable text only: what the server writes into a file and a page. */
static int clean_text(const hd_buf *b)
{
	if (!hd_utf8_valid(b->data, b->len, NULL))
		return 0;
	for (size_t i = 0; i < b->len; i++)
		if ((unsigned char)b->data[i] < 0x20 || b->data[i] == 0x7f)
			return 0;
	return 1;
}

hd_status hd__unsub_check(const hd_unsub_secret *s, const char *token, size_t n,
			  char **campaign, char **key)
{
	const char *p, *d1, *d2, *end = token + n;
	hd_buf c = HD_BUF_INIT, k = HD_BUF_INIT, m = HD_BUF_INIT;
	unsigned char want[32];
	hd_status st = HD_EINVAL;

	*campaign = NULL;
	*key = NULL;
	if (n > HD_UNSUB_TOKEN_MAX || n < strlen(PREFIX) ||
	    memcmp(token, PREFIX, strlen(PREFIX)) != 0)
		return HD_EINVAL;
	p = token + strlen(PREFIX);
	d1 = memchr(p, '.', (size_t)(end - p));
	d2 = d1 ? memchr(d1 + 1, '.', (size_t)(end - d1 - 1)) : NULL;
	if (!d2 || d1 == p || d2 == d1 + 1 ||
	    hd_base64url_decode(&c, p, (size_t)(d1 - p)) != HD_OK ||
	    hd_base64url_decode(&k, d1 + 1, (size_t)(d2 - d1 - 1)) != HD_OK ||
	    hd_base64url_decode(&m, d2 + 1, (size_t)(end - d2 - 1)) != HD_OK ||
	    m.len != MAC_LEN || !c.data || !k.data)
		goto out;
	if (mac(s, c.data, c.len, k.data, k.len, want) != HD_OK) {
		st = HD_ENOMEM;
		goto out;
	}
	if (CRYPTO_memcmp(want, m.data, MAC_LEN) != 0 || !clean_text(&c) ||
	    !clean_text(&k) || memchr(c.data, '\0', c.len) ||
	    memchr(k.data, '\0', k.len))
		goto out;
	*campaign = hd_buf_detach(&c, NULL);
	*key = hd_buf_detach(&k, NULL);
	st = *campaign && *key ? HD_OK : HD_ENOMEM;
	if (st != HD_OK) {
		free(*campaign);
		free(*key);
		*campaign = *key = NULL;
	}
out:
	hd_buf_free(&c);
	hd_buf_free(&k);
	hd_buf_free(&m);
	return st;
}
