/*
 * bench_render.c — messages built per second on one core: render, escape,
 * validate and encode, exactly what a worker does before it sends.
 *
 *   bench_render [SECONDS]        (default 2 per case)
 *
 * Cases: a typical email (templates/welcome.eml with one CSV-like record,
 * headers with a non-ASCII name, quoted-printable body), the same email
 * signed with DKIM (an RSA-2048 key, an Ed25519 key, made here), and a
 * typical JSON webhook (bearer token from --env, JSON body escaping).
 * Prints one line per case; asserts nothing.
 */
#include "message.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run_case(const char *name, const char *path,
		    const hd_msgtmpl_opts *o, const char *record, double secs)
{
	hd_msgtmpl *t = NULL;
	hd_error e;
	json_t *rec = json_loads(record, 0, NULL);
	long n = 0;
	size_t bytes = 0;
	double t0, el;
	char key[32];

	if (hd_msgtmpl_load(path, o, &t, &e) != HD_OK || !rec) {
		char line[800];
		hd_error_format(&e, line, sizeof(line));
		fprintf(stderr, "%s: %s\n", name, line);
		return 1;
	}
	t0 = now();
	do {
		for (int i = 0; i < 1000; i++, n++) {
			hd_message m;
			snprintf(key, sizeof(key), "user%ld@example.com", n);
			if (hd_msgtmpl_build(t, rec, "bench", key, n + 1, &m,
					     &e) != HD_OK) {
				fprintf(stderr, "%s: build failed: %s\n", name,
					e.msg);
				return 1;
			}
			bytes += m.kind == HD_MSG_EMAIL ? m.email.len
							: m.http.body_len;
			hd_message_clear(&m);
		}
		el = now() - t0;
	} while (el < secs);
	printf("%-8s %10.0f messages/s/core  (%ld in %.2f s, %.0f bytes "
	       "avg)\n",
	       name, (double)n / el, n, el, (double)bytes / (double)n);
	json_decref(rec);
	hd_msgtmpl_free(t);
	return 0;
}

/* Writes a fresh private key to path (mode 0600); 0 on success. */
static int make_key(const char *path, const char *alg)
{
	EVP_PKEY *k = strcmp(alg, "RSA") == 0
			  ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
			  : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	FILE *fp = k ? fopen(path, "w") : NULL;
	int ok = fp && PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL);

	if (fp)
		fclose(fp);
	EVP_PKEY_free(k);
	return ok && chmod(path, 0600) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	char dir[] = "/tmp/herald-bench-XXXXXX", path[128], eml[512];
	const char *src = getenv("HERALD_SRC");
	const char *names[] = {"HOOK_TOKEN"};
	hd_msgtmpl_opts ho = {.env_names = names, .n_env = 1};
	FILE *fp;
	int rc = 0;

	if (secs <= 0)
		secs = 2.0;
	if (!mkdtemp(dir))
		return 1;
	snprintf(eml, sizeof(eml), "%s/templates/welcome.eml", src ? src : ".");
	if (access(eml, R_OK) != 0) {
		fprintf(stderr,
			"run from the source folder or set HERALD_SRC "
			"(%s not found)\n",
			eml);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/hook.http", dir);
	fp = fopen(path, "w");
	if (!fp)
		return 1;
	fputs("POST https://hooks.example/services/{{team}}\n"
	      "Content-Type: application/json\n"
	      "Authorization: Bearer {{env.HOOK_TOKEN}}\n\n"
	      "{\"text\": \"Hello {{name}}, invoice {{invoice.id}} of "
	      "{{invoice.total}} is due on {{invoice.due}}.\", "
	      "\"channel\": \"{{channel}}\"}\n",
	      fp);
	fclose(fp);
	setenv("HOOK_TOKEN", "xoxb-bench-token", 1);
	rc |= run_case("email", eml, NULL,
		       "{\"email\":\"chloe@example.net\",\"name\":\"Chloé "
		       "Martin\",\"plan\":\"Team\",\"company\":{\"name\":"
		       "\"Martin SARL\",\"seats\":12}}",
		       secs);
	for (int i = 0; i < 2; i++) {
		const char *alg = i == 0 ? "RSA" : "ED25519";
		char key[128], spec[200];
		const char *specs[1] = {spec};
		hd_mail_config mc = {.dkim = specs, .n_dkim = 1};
		hd_msgtmpl_opts mo = {.mail = &mc};

		snprintf(key, sizeof(key), "%s/%s.pem", dir, alg);
		snprintf(spec, sizeof(spec), "%s:bench:example.net:%s",
			 i == 0 ? "rsa" : "ed25519", key);
		if (make_key(key, alg) != 0)
			return 1;
		rc |= run_case(i == 0 ? "+rsa" : "+ed25519", eml, &mo,
			       "{\"email\":\"chloe@example.net\",\"name\":"
			       "\"Chloé Martin\",\"plan\":\"Team\","
			       "\"company\":{\"name\":\"Martin SARL\","
			       "\"seats\":12}}",
			       secs);
		unlink(key);
	}
	rc |= run_case("webhook", path, &ho,
		       "{\"team\":\"T0/B1\",\"name\":\"Ann \\\"The Hammer\\\" "
		       "Lee\",\"channel\":\"#billing\",\"invoice\":{\"id\":"
		       "\"INV-2026-0042\",\"total\":\"1,250.00 EUR\",\"due\":"
		       "\"2026-12-01\"}}",
		       secs);
	unlink(path);
	rmdir(dir);
	return rc;
}
