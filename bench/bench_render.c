/*
 * bench_render.c — messages built per second on one core: render, escape,
 * validate and encode, exactly what a worker does before it sends.
 *
 *   bench_render [SECONDS]        (default 2 per case)
 *
 * Cases: a typical email (templates/welcome.eml with one CSV-like record,
 * headers with a non-ASCII name, quoted-printable body) and a typical JSON
 * webhook (bearer token from --env, JSON body escaping).  Prints one line
 * per case; asserts nothing.
 */
#include "message.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
