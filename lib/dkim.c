/*
 * dkim.c — DKIM signing (RFC 6376, RFC 8463) on OpenSSL's libcrypto; see
 * dkim.h.
 */
#include "dkim.h"

#include "encode.h"
#include "secret.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define KEY_FILE_MAX (64 << 10) /* a 16384-bit RSA key in PEM is ~13 KB */
#define FIELDS_MAX 256		/* header fields in one message */
#define FOLD_AT 76		/* fold DKIM-Signature before this column */
#define NAME_MAX_LEN 253	/* selector or domain (RFC 1035 2.3.4) */

enum alg { ALG_RSA, ALG_ED25519 };

/* The algorithms a spec may name (decision table). */
static const struct {
	const char *name; /* in a spec, case-insensitive */
	const char *tag;  /* the a= value */
	int pkey_type;	  /* the key it needs */
	enum alg alg;
} algs[] = {
    {"rsa", "rsa-sha256", EVP_PKEY_RSA, ALG_RSA},
    {"rsa-sha256", "rsa-sha256", EVP_PKEY_RSA, ALG_RSA},
    {"ed25519", "ed25519-sha256", EVP_PKEY_ED25519, ALG_ED25519},
    {"ed25519-sha256", "ed25519-sha256", EVP_PKEY_ED25519, ALG_ED25519},
};

/* The fields signed when present, in h= order (decision table). */
static const char *const signed_fields[] = {
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Reply-To",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Feedback-ID",
};
#define NSIGNED (sizeof(signed_fields) / sizeof(signed_fields[0]))

/* Signed once more than they occur (section 8.15). */
static const char *const oversigned[] = {"From", "Subject"};

struct signer {
	const char *alg_tag;
	enum alg alg;
	char *selector;
	char *domain;
	EVP_PKEY *key;
};

struct hd_dkim {
	struct signer s[HD_DKIM_MAX];
	size_t n;
	unsigned char omit[NSIGNED]; /* 1: never signed (--dkim-omit) */
};

/* One header field of the message: p[0..n) without its final CRLF. */
struct field {
	const char *p;
	size_t n;
	size_t name_len; /* the name, blanks before the colon excluded */
};

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- canonicalisation (section 3.4) -------------------------------- */

hd_status hd__dkim_relaxed_header(hd_buf *out, const char *f, size_t n)
{
	const char *colon = memchr(f, ':', n), *end = f + n;
	size_t nlen;
	int blank = 0, started = 0;
	char *w;

	if (!colon)
		return HD_EINVAL;
	/* the result is never longer than the field plus its CRLF */
	if (hd_buf_reserve(out, n + 2) != HD_OK)
		return HD_ENOMEM;
	w = out->data + out->len;
	nlen = (size_t)(colon - f);
	while (nlen && is_wsp(f[nlen - 1]))
		nlen--;
	for (size_t i = 0; i < nlen; i++) {
		char c = f[i];
		*w++ = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	*w++ = ':';
	for (const char *p = colon + 1; p < end; p++) {
		if (*p == '\r' || *p == '\n') /* unfold */
			continue;
		if (is_wsp(*p)) {
			blank = 1;
			continue;
		}
		if (blank && started)
			*w++ = ' ';
		blank = 0;
		started = 1;
		*w++ = *p;
	}
	*w++ = '\r';
	*w++ = '\n';
	out->len = (size_t)(w - out->data);
	out->data[out->len] = '\0';
	return HD_OK;
}

/* Where canonical body bytes go: a buffer (tests) or a digest, through a
 * small staging area so the digest is not fed a few bytes at a time. */
struct sink {
	hd_buf *out;
	EVP_MD_CTX *md;
	char stage[8192];
	size_t n;
	int failed;
};

static void sink_flush(struct sink *s)
{
	if (s->n && s->md && EVP_DigestUpdate(s->md, s->stage, s->n) != 1)
		s->failed = 1;
	s->n = 0;
}

static void sink_put(struct sink *s, const char *p, size_t n)
{
	if (s->out) {
		if (hd_buf_append(s->out, p, n) != HD_OK)
			s->failed = 1;
		return;
	}
	if (s->n + n > sizeof(s->stage))
		sink_flush(s);
	if (n > sizeof(s->stage)) {
		if (EVP_DigestUpdate(s->md, p, n) != 1)
			s->failed = 1;
		return;
	}
	memcpy(s->stage + s->n, p, n);
	s->n += n;
}

/* Section 3.4.4, streaming: each line with its runs of blanks made one
 * space and its trailing blanks dropped; empty lines are held back until
 * a non-empty one follows, so those at the end vanish. */
static void relaxed_body(struct sink *s, const char *b, size_t n)
{
	const char *p = b, *end = b + n;
	size_t empties = 0;

	while (p < end) {
		const char *le = p, *next, *q;
		int content = 0;

		while (le < end &&
		       !(le[0] == '\r' && le + 1 < end && le[1] == '\n'))
			le++;
		next = le < end ? le + 2 : end;
		for (q = p; q < le && !content; q++)
			content = !is_wsp(*q);
		if (!content) {
			empties++;
			p = next;
			continue;
		}
		for (; empties; empties--)
			sink_put(s, "\r\n", 2);
		for (q = p; q < le;) {
			const char *run = q;
			if (is_wsp(*q)) {
				while (q < le && is_wsp(*q))
					q++;
				if (q < le)
					sink_put(s, " ", 1);
				continue;
			}
			while (q < le && !is_wsp(*q))
				q++;
			sink_put(s, run, (size_t)(q - run));
		}
		sink_put(s, "\r\n", 2);
		p = next;
	}
}

hd_status hd__dkim_relaxed_body(hd_buf *out, const char *body, size_t n)
{
	struct sink *s = calloc(1, sizeof(*s));
	size_t len0 = out->len;
	int failed;

	if (!s)
		return HD_ENOMEM;
	s->out = out;
	relaxed_body(s, body, n);
	failed = s->failed;
	free(s);
	if (failed) {
		out->len = len0;
		if (out->data)
			out->data[len0] = '\0';
		return HD_ENOMEM;
	}
	return HD_OK;
}

/* ---- specs and keys ------------------------------------------------ */

/* A selector or domain: dot-separated labels of letters, digits, '-' and
 * '_' (RFC 6376 section 3.1 allows only the first three; '_' is seen in
 * the wild and harmless here: nothing it could inject). */
static int dns_name_ok(const char *s, size_t n)
{
	size_t label = 0;

	if (n == 0 || n > NAME_MAX_LEN)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_') ||
		    ++label > 63)
			return 0;
	}
	return label > 0;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1; /* never prompt: encrypted keys are refused */
}

static hd_status read_key(const char *path, int type, EVP_PKEY **out,
			  hd_error *err)
{
	char *pem = NULL;
	size_t len = 0;
	BIO *bio;
	EVP_PKEY *key = NULL;
	hd_status st;

	*out = NULL;
	st = hd__secret_read(path, "DKIM key", KEY_FILE_MAX, &pem, &len, err);
	if (st != HD_OK)
		return st;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio)
		key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	hd__secret_free(pem, len);
	ERR_clear_error();
	if (!key)
		return hd_error_set(err, HD_ECONFIG, path, 0, 0,
				    "DKIM key: no unencrypted PEM private "
				    "key in this file");
	if (EVP_PKEY_get_base_id(key) != type) {
		EVP_PKEY_free(key);
		return hd_error_set(err, HD_ECONFIG, path, 0, 0,
				    "DKIM key: not an %s key",
				    type == EVP_PKEY_RSA ? "RSA" : "Ed25519");
	}
	if (type == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) < 1024) {
		EVP_PKEY_free(key);
		return hd_error_set(err, HD_ECONFIG, path, 0, 0,
				    "DKIM key: RSA keys under 1024 bits are "
				    "refused by verifiers (RFC 8301); use "
				    "2048");
	}
	*out = key;
	return HD_OK;
}

static hd_status spec_error(hd_error *err, const char *spec)
{
	return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
			    "--dkim takes ALG:SELECTOR:DOMAIN:KEYFILE (ALG "
			    "rsa or ed25519), not '%.200s'",
			    spec);
}

static hd_status add_signer(hd_dkim *d, const char *spec, hd_error *err)
{
	const char *c1 = strchr(spec, ':'), *c2, *c3;
	struct signer *s = &d->s[d->n];
	size_t alen;
	int found = -1;

	c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	c3 = c2 ? strchr(c2 + 1, ':') : NULL;
	if (!c3 || !c3[1])
		return spec_error(err, spec);
	alen = (size_t)(c1 - spec);
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (strlen(algs[i].name) == alen &&
		    strncasecmp(spec, algs[i].name, alen) == 0)
			found = (int)i;
	if (found < 0)
		return spec_error(err, spec);
	if (!dns_name_ok(c1 + 1, (size_t)(c2 - c1 - 1)) ||
	    !dns_name_ok(c2 + 1, (size_t)(c3 - c2 - 1)))
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "--dkim '%.200s': the selector and domain "
				    "must be DNS names",
				    spec);
	s->alg_tag = algs[found].tag;
	s->alg = algs[found].alg;
	s->selector = strndup(c1 + 1, (size_t)(c2 - c1 - 1));
	s->domain = strndup(c2 + 1, (size_t)(c3 - c2 - 1));
	d->n++; /* so that free releases what is set so far */
	if (!s->selector || !s->domain)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	return read_key(c3 + 1, algs[found].pkey_type, &s->key, err);
}

static hd_status add_omit(hd_dkim *d, const char *name, hd_error *err)
{
	if (strcasecmp(name, "From") == 0)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "--dkim-omit From: a DKIM signature must "
				    "cover From (RFC 6376 section 5.4)");
	for (size_t i = 0; i < NSIGNED; i++)
		if (strcasecmp(name, signed_fields[i]) == 0) {
			d->omit[i] = 1;
			return HD_OK;
		}
	return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
			    "--dkim-omit '%.100s': herald does not sign that "
			    "header anyway",
			    name);
}

void hd__dkim_free(hd_dkim *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->s[i].selector);
		free(d->s[i].domain);
		EVP_PKEY_free(d->s[i].key);
	}
	free(d);
}

hd_status hd__dkim_new(const char *const *specs, size_t n,
		       const char *const *omit, size_t nomit, hd_dkim **out,
		       hd_error *err)
{
	static const char probe[] = "From: a@b.example\r\n\r\nprobe\r\n";
	hd_dkim *d;
	hd_buf sigs = HD_BUF_INIT;
	hd_status st = HD_OK;

	*out = NULL;
	if (n == 0)
		return nomit ? hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
					    "--dkim-omit needs --dkim")
			     : HD_OK;
	if (n > HD_DKIM_MAX || nomit > HD_DKIM_OMIT_MAX)
		return hd_error_set(err, HD_EUSAGE, NULL, 0, 0,
				    "at most %d --dkim and %d --dkim-omit",
				    HD_DKIM_MAX, HD_DKIM_OMIT_MAX);
	d = calloc(1, sizeof(*d));
	if (!d)
		return hd_error_set(err, HD_ENOMEM, NULL, 0, 0, NULL);
	for (size_t i = 0; st == HD_OK && i < nomit; i++)
		st = add_omit(d, omit[i], err);
	for (size_t i = 0; st == HD_OK && i < n; i++)
		st = add_signer(d, specs[i], err);
	/* one signature now, so that a key OpenSSL cannot use fails here,
	 * before any row, and never while sending */
	if (st == HD_OK &&
	    hd__dkim_sign(d, probe, sizeof(probe) - 1, 0, &sigs, NULL) != HD_OK)
		st = hd_error_set(err, HD_ECONFIG, NULL, 0, 0,
				  "a DKIM key cannot sign");
	hd_buf_free(&sigs);
	if (st != HD_OK) {
		hd__dkim_free(d);
		return st;
	}
	*out = d;
	return HD_OK;
}

/* ---- signing ------------------------------------------------------- */

/* Splits msg into header fields and the body. */
static hd_status split(const char *msg, size_t len, struct field *f, size_t *nf,
		       const char **body, size_t *blen)
{
	const char *p = msg, *end = msg + len;

	*nf = 0;
	*body = end;
	*blen = 0;
	while (p < end) {
		const char *q = p, *colon;

		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
			*body = p + 2;
			*blen = (size_t)(end - p - 2);
			return HD_OK;
		}
		/* the field ends at a CRLF not followed by a blank */
		for (;;) {
			q = memchr(q, '\r', (size_t)(end - q));
			if (!q || q + 1 >= end)
				return HD_EINVAL;
			if (q[1] == '\n' && (q + 2 >= end || !is_wsp(q[2])))
				break;
			q++;
		}
		colon = memchr(p, ':', (size_t)(q - p));
		if (!colon || *nf == FIELDS_MAX)
			return HD_EINVAL;
		f[*nf].p = p;
		f[*nf].n = (size_t)(q - p);
		f[*nf].name_len = (size_t)(colon - p);
		while (f[*nf].name_len && is_wsp(p[f[*nf].name_len - 1]))
			f[*nf].name_len--;
		(*nf)++;
		p = q + 2;
	}
	return HD_OK; /* headers only, no body */
}

static int field_is(const struct field *f, const char *name)
{
	return strlen(name) == f->name_len &&
	       strncasecmp(f->p, name, f->name_len) == 0;
}

/* The h= names, in order: each signed field as often as it occurs, then
 * the oversigned ones once more.  names[] point into the tables. */
static size_t header_list(const hd_dkim *d, const struct field *f, size_t nf,
			  const char **names, size_t max)
{
	size_t k = 0;

	for (size_t i = 0; i < NSIGNED; i++) {
		if (d->omit[i])
			continue;
		for (size_t j = 0; j < nf && k < max; j++)
			if (field_is(&f[j], signed_fields[i]))
				names[k++] = signed_fields[i];
	}
	for (size_t i = 0; i < sizeof(oversigned) / sizeof(oversigned[0]);
	     i++) {
		int omitted = 0;
		for (size_t j = 0; j < NSIGNED; j++)
			if (d->omit[j] &&
			    strcasecmp(signed_fields[j], oversigned[i]) == 0)
				omitted = 1;
		if (!omitted && k < max)
			names[k++] = oversigned[i];
	}
	return k;
}

/* Builds a folded field: tokens separated by a blank, or by a fold when
 * the line would pass FOLD_AT. */
struct folder {
	hd_buf *b;
	size_t col;
	hd_status st;
};

static void fold_put(struct folder *f, const char *tok, size_t n, int blank)
{
	if (f->st != HD_OK)
		return;
	if (f->col + (blank ? 1 : 0) + n > FOLD_AT && f->col > 1) {
		f->st = hd_buf_append(f->b, "\r\n\t", 3);
		f->col = 1;
	} else if (blank) {
		f->st = hd_buf_putc(f->b, ' ');
		f->col++;
	}
	if (f->st == HD_OK)
		f->st = hd_buf_append(f->b, tok, n);
	f->col += n;
}

static void fold_putf(struct folder *f, int blank, const char *fmt, ...)
    HD_PRINTF(3, 4);

static void fold_putf(struct folder *f, int blank, const char *fmt, ...)
{
	char tok[300];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tok, sizeof(tok), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tok)) {
		f->st = HD_EINVAL;
		return;
	}
	fold_put(f, tok, (size_t)n, blank);
}

/* Signs data with s's key: RSASSA-PKCS1-v1_5 over SHA-256 for rsa-sha256;
 * for ed25519-sha256, PureEdDSA over the SHA-256 of data (RFC 8463
 * section 3). */
static hd_status sign_data(const struct signer *s, const hd_buf *data,
			   unsigned char *sig, size_t *siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char hash[32];
	unsigned int hlen = 0;
	int ok;

	if (!ctx)
		return HD_ENOMEM;
	if (s->alg == ALG_RSA) {
		ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
					s->key) == 1 &&
		     EVP_DigestSign(ctx, sig, siglen,
				    (const unsigned char *)data->data,
				    data->len) == 1;
	} else {
		ok = EVP_Digest(data->data, data->len, hash, &hlen,
				EVP_sha256(), NULL) == 1 &&
		     EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->key) == 1 &&
		     EVP_DigestSign(ctx, sig, siglen, hash, hlen) == 1;
	}
	EVP_MD_CTX_free(ctx);
	if (!ok)
		ERR_clear_error();
	return ok ? HD_OK : HD_ENOMEM;
}

/* Appends one DKIM-Signature field for signer s to out. */
static hd_status sign_one(const struct signer *s, const struct field *f,
			  size_t nf, const char *const *names, size_t nnames,
			  const char *bh, long long now, hd_buf *out)
{
	hd_buf field = HD_BUF_INIT, data = HD_BUF_INIT, b64 = HD_BUF_INIT;
	struct folder fo = {&field, 0, HD_OK};
	unsigned char used[FIELDS_MAX] = {0};
	unsigned char sig[1024]; /* RSA up to 8192 bits */
	size_t siglen = sizeof(sig);
	hd_status st;

	if ((size_t)EVP_PKEY_get_size(s->key) > sizeof(sig))
		return HD_EINVAL;
	fo.st = hd_buf_puts(&field, "DKIM-Signature:");
	fo.col = field.len;
	fold_putf(&fo, 1, "v=1;");
	fold_putf(&fo, 1, "a=%s;", s->alg_tag);
	fold_putf(&fo, 1, "c=relaxed/relaxed;");
	fold_putf(&fo, 1, "d=%s;", s->domain);
	fold_putf(&fo, 1, "s=%s;", s->selector);
	fold_putf(&fo, 1, "t=%lld;", now);
	for (size_t i = 0; i < nnames; i++) {
		char tok[64];
		size_t k = 0;
		for (const char *c = names[i]; *c && k < 40; c++)
			tok[k++] = *c >= 'A' && *c <= 'Z'
				       ? (char)(*c - 'A' + 'a')
				       : *c;
		tok[k] = '\0';
		/* a fold may follow the ':' (FWS in sig-h-tag) */
		fold_putf(&fo, i == 0, "%s%s%s", i == 0 ? "h=" : "", tok,
			  i + 1 < nnames ? ":" : ";");
	}
	fold_putf(&fo, 1, "bh=%s;", bh);
	fold_putf(&fo, 1, "b=");
	st = fo.st;
	/* what is signed: the chosen fields, each instance taken from the
	 * bottom up (section 5.4.2), then this field with an empty b= and
	 * without its CRLF (section 3.7) */
	for (size_t i = 0; st == HD_OK && i < nnames; i++)
		for (size_t j = nf; j-- > 0;)
			if (!used[j] && field_is(&f[j], names[i])) {
				used[j] = 1;
				st = hd__dkim_relaxed_header(&data, f[j].p,
							     f[j].n);
				break;
			}
	if (st == HD_OK)
		st = hd__dkim_relaxed_header(&data, field.data, field.len);
	if (st == HD_OK) {
		data.len -= 2;
		st = sign_data(s, &data, sig, &siglen);
	}
	if (st == HD_OK)
		st = hd_base64_encode(&b64, sig, siglen, 0);
	/* the b= value, cut at folds only (white space in it is ignored,
	 * section 3.5) */
	for (size_t at = 0; st == HD_OK && at < b64.len;) {
		size_t room = fo.col < FOLD_AT ? FOLD_AT - fo.col : 0, k;
		if (room < 8) {
			st = hd_buf_append(&field, "\r\n\t", 3);
			fo.col = 1;
			continue;
		}
		k = b64.len - at < room ? b64.len - at : room;
		st = hd_buf_append(&field, b64.data + at, k);
		fo.col += k;
		at += k;
	}
	if (st == HD_OK)
		st = hd_buf_append(&field, "\r\n", 2);
	if (st == HD_OK)
		st = hd_buf_append(out, field.data, field.len);
	hd_buf_free(&field);
	hd_buf_free(&data);
	hd_buf_free(&b64);
	return st;
}

hd_status hd__dkim_sign(const hd_dkim *d, const char *msg, size_t len,
			long long now, hd_buf *sigs, hd_error *err)
{
	struct field *f = NULL;
	const char *names[FIELDS_MAX + 4], *body;
	size_t nf = 0, nnames, blen, len0 = sigs->len;
	unsigned char bh[32];
	unsigned int bhlen = 0;
	struct sink *sink = NULL;
	hd_buf bh64 = HD_BUF_INIT;
	hd_status st;

	if (!d || d->n == 0)
		return HD_OK;
	f = malloc(FIELDS_MAX * sizeof(*f));
	sink = calloc(1, sizeof(*sink));
	if (!f || !sink) {
		st = HD_ENOMEM;
		goto out;
	}
	st = split(msg, len, f, &nf, &body, &blen);
	if (st != HD_OK) {
		hd_error_set(err, st, NULL, 0, 0,
			     "DKIM: the message has no well-formed header "
			     "block");
		goto out;
	}
	/* one body hash serves every signature: all are relaxed sha256 */
	sink->md = EVP_MD_CTX_new();
	if (!sink->md || EVP_DigestInit_ex(sink->md, EVP_sha256(), NULL) != 1) {
		st = HD_ENOMEM;
		goto out;
	}
	relaxed_body(sink, body, blen);
	sink_flush(sink);
	if (sink->failed || EVP_DigestFinal_ex(sink->md, bh, &bhlen) != 1 ||
	    hd_base64_encode(&bh64, bh, bhlen, 0) != HD_OK) {
		st = HD_ENOMEM;
		goto out;
	}
	nnames = header_list(d, f, nf, names, sizeof(names) / sizeof(names[0]));
	for (size_t i = 0; st == HD_OK && i < d->n; i++)
		st = sign_one(&d->s[i], f, nf, names, nnames, bh64.data, now,
			      sigs);
out:
	if (st != HD_OK) {
		sigs->len = len0;
		if (sigs->data)
			sigs->data[len0] = '\0';
		if (st != HD_EINVAL)
			hd_error_set(err, st, NULL, 0, 0,
				     "DKIM signing failed: %s",
				     hd_strerror(st));
	}
	if (sink)
		EVP_MD_CTX_free(sink->md);
	free(sink);
	free(f);
	hd_buf_free(&bh64);
	return st;
}
