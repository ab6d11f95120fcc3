/* test_dkim.c — DKIM canonicalisation and signing (lib/dkim.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tmpdir.h"

#include "dkim.h"
#include "encode.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Writes key as PEM (PKCS#8) to dir/name with the given mode; returns
 * the path (static). */
static const char *write_key(const char *name, EVP_PKEY *key, mode_t mode)
{
	static char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(
	    PEM_write_PrivateKey(fp, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(fp);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static EVP_PKEY *rsa_key(unsigned bits)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	assert_non_null(k);
	return k;
}

static EVP_PKEY *ed_key(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(k);
	return k;
}

/* RFC 8463 appendix A.2's published test key (a test vector, not a
 * secret): the raw Ed25519 seed and its public key. */
static const char rfc8463_seed[] =
    "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
static const char rfc8463_pub[] =
    "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";

static void b64_decode(const char *s, unsigned char *out, size_t want)
{
	unsigned char tmp[128];
	int n = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)strlen(s));

	/* EVP_DecodeBlock counts the padding as zero bytes */
	assert_true(n >= (int)want);
	memcpy(out, tmp, want);
}

static EVP_PKEY *rfc8463_key(int private_key)
{
	unsigned char raw[32];

	b64_decode(private_key ? rfc8463_seed : rfc8463_pub, raw, 32);
	return private_key ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519,
							  NULL, raw, 32)
			   : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
							 raw, 32);
}

static char *relaxed_header(const char *field)
{
	hd_buf b = HD_BUF_INIT;

	assert_int_equal(hd__dkim_relaxed_header(&b, field, strlen(field)),
			 HD_OK);
	return hd_buf_detach(&b, NULL);
}

static char *relaxed_body(const char *body)
{
	hd_buf b = HD_BUF_INIT;

	assert_int_equal(hd__dkim_relaxed_body(&b, body, strlen(body)), HD_OK);
	return hd_buf_detach(&b, NULL);
}

/* RFC 6376 section 3.4.6, the relaxed half of the example. */
static void rfc6376_section_3_4_6(void **state)
{
	char *a, *b, *body;

	(void)state;
	a = relaxed_header("A: X");
	b = relaxed_header("B : Y\t\r\n\tZ  ");
	body = relaxed_body(" C \r\nD \t E\r\n\r\n\r\n");
	assert_string_equal(a, "a:X\r\n");
	assert_string_equal(b, "b:Y Z\r\n");
	assert_string_equal(body, " C\r\nD E\r\n");
	free(a);
	free(b);
	free(body);
}

static void relaxed_body_edges(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"", ""},			  /* empty stays empty */
	    {"\r\n", ""},		  /* only empty lines: empty */
	    {"  \r\n\t\r\n", ""},	  /* blank lines are empty lines */
	    {"abc", "abc\r\n"},		  /* a CRLF after a last line */
	    {"a  b\t\tc  ", "a b c\r\n"}, /* runs of blanks */
	    {"a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n"}, /* inner empty lines stay */
	    {"a\r\n \r\nb", "a\r\n\r\nb\r\n"},	  /* held, then written */
	    {".dot\r\n", ".dot\r\n"},		  /* no dot-stuffing here */
	    {"x\ny\r\n", "x\ny\r\n"}, /* a bare LF is not a line end */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = relaxed_body(cases[i].in);
		assert_string_equal(got, cases[i].out);
		free(got);
	}
}

static void relaxed_header_edges(void **state)
{
	char *h;
	hd_buf b = HD_BUF_INIT;

	(void)state;
	h = relaxed_header("SUBJECT:   hello \r\n  world\t");
	assert_string_equal(h, "subject:hello world\r\n");
	free(h);
	h = relaxed_header("X-Empty:   ");
	assert_string_equal(h, "x-empty:\r\n");
	free(h);
	assert_int_equal(hd__dkim_relaxed_header(&b, "no colon", 8), HD_EINVAL);
	hd_buf_free(&b);
}

/* Where "name=" starts in a DKIM-Signature field: after a blank or a
 * fold's tab. */
static const char *tag_at(const char *field, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = field; *p; p++)
		if ((*p == ' ' || *p == '\t') && strncmp(p + 1, name, n) == 0 &&
		    p[1 + n] == '=')
			return p + 1;
	fail_msg("no %s= tag", name);
	return NULL;
}

/* The value of tag name in a DKIM-Signature field, white space removed. */
static char *tag(const char *field, const char *name)
{
	char *out = calloc(1, 2048);
	const char *p = tag_at(field, name) + strlen(name) + 1;
	size_t k = 0;

	for (; *p && *p != ';' &&
	       !(p[0] == '\r' && p[1] == '\n' && p[2] != '\t' && p[2] != ' ');
	     p++)
		if (*p != '\r' && *p != '\n' && *p != '\t' && *p != ' ')
			out[k++] = *p;
	return out;
}

static const char rfc_msg[] =
    "From: Joe SixPack <joe@football.example.com>\r\n"
    "To: Suzie Q <suzie@shopping.example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game.  Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n";

/* Verifies signature field sig (one DKIM-Signature, CRLF-terminated)
 * over msg with pub, the way a verifier does (section 6.1.3). */
static int verify(const char *sig, const char *msg, EVP_PKEY *pub, int ed25519)
{
	hd_buf data = HD_BUF_INIT, stripped = HD_BUF_INIT;
	char *h = tag(sig, "h"), *b = tag(sig, "b"), *save = NULL;
	unsigned char raw[1024], hash[32];
	int used[32] = {0}, n, ok;
	unsigned int hl = 0;
	const char *bpos;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	/* each h= name picks the next unused instance from the bottom */
	for (char *name = strtok_r(h, ":", &save); name;
	     name = strtok_r(NULL, ":", &save)) {
		const char *fields[32];
		size_t nf = 0, len[32];
		for (const char *p = msg; p[0] != '\r';) {
			const char *e = strstr(p, "\r\n");
			while (e[2] == ' ' || e[2] == '\t')
				e = strstr(e + 2, "\r\n");
			fields[nf] = p;
			len[nf++] = (size_t)(e - p);
			p = e + 2;
		}
		for (size_t j = nf; j-- > 0;) {
			size_t nl = strlen(name);
			if (!used[j] && len[j] > nl && fields[j][nl] == ':' &&
			    strncasecmp(fields[j], name, nl) == 0) {
				used[j] = 1;
				hd__dkim_relaxed_header(&data, fields[j],
							len[j]);
				break;
			}
		}
	}
	/* the signature field itself with b= emptied, no CRLF */
	bpos = tag_at(sig, "b");
	hd_buf_append(&stripped, sig, (size_t)(bpos - sig) + 2);
	hd__dkim_relaxed_header(&data, stripped.data, stripped.len);
	data.len -= 2;
	n = EVP_DecodeBlock(raw, (unsigned char *)b, (int)strlen(b));
	n -= (int)(strlen(b) - strcspn(b, "=")); /* padding */
	if (ed25519) {
		EVP_Digest(data.data, data.len, hash, &hl, EVP_sha256(), NULL);
		ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
		     EVP_DigestVerify(ctx, raw, (size_t)n, hash, hl) == 1;
	} else {
		ok =
		    EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) ==
			1 &&
		    EVP_DigestVerify(ctx, raw, (size_t)n,
				     (unsigned char *)data.data, data.len) == 1;
	}
	EVP_MD_CTX_free(ctx);
	hd_buf_free(&data);
	hd_buf_free(&stripped);
	free(h);
	free(b);
	return ok;
}

/* RFC 8463 appendix A.3's own signature checks out against our
 * canonicalisation: an outside test vector for both algorithms' input. */
static void rfc8463_vector_verifies(void **state)
{
	static const char sig[] =
	    "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	    " d=football.example.com; i=@football.example.com;\r\n"
	    " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	    " subject : date : message-id : from : subject : date;\r\n"
	    " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	    " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
	    " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n";
	EVP_PKEY *pub = rfc8463_key(0);
	char *h = strdup(sig);

	(void)state;
	assert_true(verify(h, rfc_msg, pub, 1));
	/* and a changed header does not */
	{
		char *m = strdup(rfc_msg);
		m[strlen("From: Joe Six")] = 'p';
		assert_false(verify(h, m, pub, 1));
		free(m);
	}
	free(h);
	EVP_PKEY_free(pub);
}

static hd_dkim *signer(const char *const *specs, size_t n,
		       const char *const *omit, size_t nomit)
{
	hd_dkim *d = NULL;
	hd_error e;

	assert_int_equal(hd__dkim_new(specs, n, omit, nomit, &d, &e), HD_OK);
	assert_non_null(d);
	return d;
}

static char *sign(const hd_dkim *d, const char *msg)
{
	hd_buf sigs = HD_BUF_INIT;
	hd_error e;

	assert_int_equal(
	    hd__dkim_sign(d, msg, strlen(msg), 1528637909, &sigs, &e), HD_OK);
	return hd_buf_detach(&sigs, NULL);
}

/* The body hash is RFC 6376 A.2's and RFC 8463 A.3's, and our own
 * signature with the RFC's key verifies with the RFC's public key. */
static void signs_with_rfc8463_key(void **state)
{
	EVP_PKEY *priv = rfc8463_key(1), *pub = rfc8463_key(0);
	char spec[300], *sig, *bh;
	const char *specs[1] = {spec};
	hd_dkim *d;

	(void)state;
	snprintf(spec, sizeof(spec), "ed25519:brisbane:football.example.com:%s",
		 write_key("rfc.pem", priv, 0600));
	d = signer(specs, 1, NULL, 0);
	sig = sign(d, rfc_msg);
	bh = tag(sig, "bh");
	assert_string_equal(bh, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	assert_true(verify(sig, rfc_msg, pub, 1));
	free(bh);
	free(sig);
	hd__dkim_free(d);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
}

static const char msg[] =
    "Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
    "From: Acme <news@acme.example>\r\n"
    "To: Ann <ann@example.com>\r\n"
    "Cc: a@example.com,\r\n b@example.com\r\n"
    "Subject: Hello\r\n"
    "X-Original-To: someone@example.com\r\n"
    "Message-ID: <x@acme.example>\r\n"
    "List-Unsubscribe: <https://acme.example/u/t>\r\n"
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "Hello   Ann  \r\n"
    ".a dot line\r\n"
    "\r\n\r\n";

/* rsa and ed25519 together; h= lists what is there, From and Subject
 * twice; folded within 78 columns; each verifies; deterministic. */
static void two_signatures(void **state)
{
	EVP_PKEY *rsa = rsa_key(2048), *ed = ed_key();
	char s1[300], s2[300], *sigs, *again, *second, *h;
	const char *specs[2] = {s1, s2};
	hd_dkim *d;

	(void)state;
	snprintf(s1, sizeof(s1), "rsa:s2026:acme.example:%s",
		 write_key("rsa.pem", rsa, 0600));
	snprintf(s2, sizeof(s2), "ED25519:e2026:acme.example:%s",
		 write_key("ed.pem", ed, 0640));
	d = signer(specs, 2, NULL, 0);
	sigs = sign(d, msg);
	second = strstr(sigs + 1, "DKIM-Signature:");
	assert_non_null(second);
	assert_ptr_equal(strstr(sigs, "DKIM-Signature:"), sigs);
	assert_non_null(strstr(sigs, "a=rsa-sha256;"));
	assert_non_null(strstr(second, "a=ed25519-sha256;"));
	assert_non_null(strstr(sigs, "c=relaxed/relaxed;"));
	assert_non_null(strstr(sigs, "d=acme.example;"));
	assert_non_null(strstr(sigs, "s=s2026;"));
	assert_non_null(strstr(sigs, "t=1528637909;"));
	assert_null(strstr(sigs, " l="));
	h = tag(second, "h");
	assert_string_equal(h, "from:to:cc:subject:date:message-id:mime-"
			       "version:content-type:list-unsubscribe:list-"
			       "unsubscribe-post:from:subject");
	free(h);
	for (const char *p = sigs; *p;) {
		const char *e = strstr(p, "\r\n");
		assert_true(e - p <= 78);
		p = e + 2;
	}
	{
		char *first = strndup(sigs, (size_t)(second - sigs));
		assert_true(verify(first, msg, rsa, 0));
		free(first);
	}
	assert_true(verify(second, msg, ed, 1));
	again = sign(d, msg);
	assert_string_equal(sigs, again); /* same bytes, same signatures */
	free(again);
	free(sigs);
	hd__dkim_free(d);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
}

/* --dkim-omit takes a header out of h=; Subject omitted is not
 * oversigned either; a relay's added header keeps the signature, an
 * extra From or a changed body does not. */
static void omit_and_tamper(void **state)
{
	EVP_PKEY *ed = ed_key();
	char s1[300], *sig, *h, *m;
	const char *specs[1] = {s1};
	const char *omit[2] = {"message-id", "Subject"};
	hd_dkim *d;
	hd_buf b = HD_BUF_INIT;

	(void)state;
	snprintf(s1, sizeof(s1), "ed25519:e:acme.example:%s",
		 write_key("ed2.pem", ed, 0600));
	d = signer(specs, 1, omit, 2);
	sig = sign(d, msg);
	h = tag(sig, "h");
	assert_null(strstr(h, "message-id"));
	assert_null(strstr(h, "subject"));
	assert_non_null(strstr(h, "date"));
	free(h);
	hd_buf_puts(&b, "Received: by relay.example\r\n");
	hd_buf_puts(&b, msg);
	assert_true(verify(sig, b.data, ed, 1));
	m = strdup(msg);
	strstr(m, "<x@")[1] = 'y'; /* rewritten by a relay */
	assert_true(verify(sig, m, ed, 1));
	free(m);
	hd_buf_reset(&b);
	hd_buf_puts(&b, "From: Mallory <m@evil.example>\r\n");
	hd_buf_puts(&b, msg);
	assert_false(verify(sig, b.data, ed, 1)); /* oversigned From */
	hd_buf_free(&b);
	free(sig);
	hd__dkim_free(d);
	EVP_PKEY_free(ed);
}

static hd_status try_new(const char *spec, const char *omit, hd_error *e)
{
	hd_dkim *d = NULL;
	const char *specs[1] = {spec}, *omits[1] = {omit};
	hd_status st = hd__dkim_new(specs, 1, omits, omit ? 1 : 0, &d, e);

	hd__dkim_free(d);
	return st;
}

static void refusals(void **state)
{
	EVP_PKEY *rsa = rsa_key(2048), *small = rsa_key(768), *ed = ed_key();
	char spec[400], rsa_path[256], open_path[256];
	hd_dkim *d = (hd_dkim *)1;
	hd_error e;
	FILE *fp;

	(void)state;
	snprintf(rsa_path, sizeof(rsa_path), "%s",
		 write_key("r.pem", rsa, 0600));
	snprintf(open_path, sizeof(open_path), "%s",
		 write_key("open.pem", rsa, 0644));
	/* none: nothing to sign with, not an error */
	assert_int_equal(hd__dkim_new(NULL, 0, NULL, 0, &d, &e), HD_OK);
	assert_null(d);
	/* readable by others: 78, naming the file, never the key */
	snprintf(spec, sizeof(spec), "rsa:s:acme.example:%s", open_path);
	assert_int_equal(try_new(spec, NULL, &e), HD_ECONFIG);
	assert_string_equal(e.file, open_path);
	assert_non_null(strstr(e.msg, "readable"));
	assert_null(strstr(e.msg, "PRIVATE"));
	/* wrong type, short RSA, missing file, not a key, encrypted */
	snprintf(spec, sizeof(spec), "ed25519:s:acme.example:%s", rsa_path);
	assert_int_equal(try_new(spec, NULL, &e), HD_ECONFIG);
	snprintf(spec, sizeof(spec), "rsa:s:acme.example:%s",
		 write_key("small.pem", small, 0600));
	assert_int_equal(try_new(spec, NULL, &e), HD_ECONFIG);
	assert_non_null(strstr(e.msg, "1024"));
	snprintf(spec, sizeof(spec), "rsa:s:acme.example:%s/none.pem", dir);
	assert_int_equal(try_new(spec, NULL, &e), HD_ENOENT);
	snprintf(spec, sizeof(spec), "%s/junk.pem", dir);
	fp = fopen(spec, "w");
	fputs("not a key\n", fp);
	fclose(fp);
	chmod(spec, 0600);
	snprintf(spec, sizeof(spec), "rsa:s:acme.example:%s/junk.pem", dir);
	assert_int_equal(try_new(spec, NULL, &e), HD_ECONFIG);
	snprintf(spec, sizeof(spec), "%s/enc.pem", dir);
	fp = fopen(spec, "w");
	PEM_write_PrivateKey(fp, ed, EVP_aes_128_cbc(), NULL, 0, NULL,
			     (void *)"pass");
	fclose(fp);
	chmod(spec, 0600);
	snprintf(spec, sizeof(spec), "ed25519:s:acme.example:%s/enc.pem", dir);
	assert_int_equal(try_new(spec, NULL, &e), HD_ECONFIG);
	/* malformed specs: usage */
	assert_int_equal(try_new("rsa:s:acme.example", NULL, &e), HD_EUSAGE);
	assert_int_equal(try_new("rsa:s:acme.example:", NULL, &e), HD_EUSAGE);
	snprintf(spec, sizeof(spec), "dsa:s:acme.example:%s", rsa_path);
	assert_int_equal(try_new(spec, NULL, &e), HD_EUSAGE);
	snprintf(spec, sizeof(spec), "rsa:s;x=1:acme.example:%s", rsa_path);
	assert_int_equal(try_new(spec, NULL, &e), HD_EUSAGE);
	snprintf(spec, sizeof(spec), "rsa:s:acme..example:%s", rsa_path);
	assert_int_equal(try_new(spec, NULL, &e), HD_EUSAGE);
	/* omit: never From, only what is signed */
	snprintf(spec, sizeof(spec), "rsa:s:acme.example:%s", rsa_path);
	assert_int_equal(try_new(spec, "from", &e), HD_EUSAGE);
	assert_int_equal(try_new(spec, "X-Mailer", &e), HD_EUSAGE);
	assert_int_equal(try_new(spec, "Message-ID", &e), HD_OK);
	/* a path may hold ':' */
	snprintf(spec, sizeof(spec), "%s/a:b.pem", dir);
	rename(rsa_path, spec);
	snprintf(spec, sizeof(spec), "rsa:s:acme.example:%s/a:b.pem", dir);
	assert_int_equal(try_new(spec, NULL, &e), HD_OK);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(small);
	EVP_PKEY_free(ed);
}

static void bad_message(void **state)
{
	EVP_PKEY *ed = ed_key();
	char s1[300];
	const char *specs[1] = {s1};
	hd_dkim *d;
	hd_buf b = HD_BUF_INIT;
	hd_error e;

	(void)state;
	snprintf(s1, sizeof(s1), "ed25519:e:acme.example:%s",
		 write_key("ed3.pem", ed, 0600));
	d = signer(specs, 1, NULL, 0);
	assert_int_equal(hd__dkim_sign(d, "no header", 9, 0, &b, &e),
			 HD_EINVAL);
	assert_int_equal(b.len, 0);
	/* headers only, no body: signs (the empty body) */
	assert_int_equal(
	    hd__dkim_sign(d, "From: a@b.example\r\n", 19, 0, &b, &e), HD_OK);
	assert_non_null(strstr(b.data,
			       "bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3"
			       "hSuFU="));
	hd_buf_free(&b);
	hd__dkim_free(d);
	EVP_PKEY_free(ed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rfc6376_section_3_4_6),
	    cmocka_unit_test(relaxed_body_edges),
	    cmocka_unit_test(relaxed_header_edges),
	    cmocka_unit_test(rfc8463_vector_verifies),
	    cmocka_unit_test(signs_with_rfc8463_key),
	    cmocka_unit_test(two_signatures),
	    cmocka_unit_test(omit_and_tamper),
	    cmocka_unit_test(refusals),
	    cmocka_unit_test(bad_message),
	};
	return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
