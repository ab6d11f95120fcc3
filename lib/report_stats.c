/* report_stats.c — bounded figures from report rows: counts, a latency
 * histogram, heavy-hitter error groups, a slowest-rows heap, a timeline. */
#include "report_stats.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

hd_status hd_report_stats_new(size_t slowest, hd_report_stats **out)
{
	hd_report_stats *s;

	if (!out || slowest > HD_STATS_MAX_SLOWEST)
		return HD_EINVAL;
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return HD_ENOMEM;
	s->want = slowest;
	if (slowest) {
		s->slow = calloc(slowest, sizeof(*s->slow));
		if (!s->slow) {
			free(s);
			return HD_ENOMEM;
		}
	}
	s->width = 1;
	*out = s;
	return HD_OK;
}

void hd_report_stats_free(hd_report_stats *s)
{
	if (!s)
		return;
	free(s->slow);
	free(s);
}

/* Copies src into dst[size], cut to fit on a UTF-8 character boundary. */
static void copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size) {
		n = size - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--;
	}
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- latency histogram ---------------------------------------------- */

static size_t bucket_of(long ms)
{
	unsigned long v = ms < 0 ? 0 : (unsigned long)ms;
	int k = 0;

	if (v < HD_STATS_EXACT_MS)
		return v;
	for (unsigned long x = v; x > 1; x >>= 1)
		k++; /* floor(log2 v), >= 10 */
	if (k > 10 + 31)
		return HD_STATS_BUCKETS - 1;
	return HD_STATS_EXACT_MS + (size_t)(k - 10) * 64 +
	       ((v >> (k - 6)) & 63);
}

static long bucket_low(size_t b)
{
	size_t k, sub;

	if (b < HD_STATS_EXACT_MS)
		return (long)b;
	k = (b - HD_STATS_EXACT_MS) / 64 + 10;
	sub = (b - HD_STATS_EXACT_MS) % 64;
	return (long)((64 + sub) << (k - 6));
}

long hd_report_stats_percentile(const hd_report_stats *s, double q)
{
	long rank, seen = 0;

	if (!s || s->attempted == 0 || !(q > 0) || q > 1)
		return -1;
	rank = (long)ceil(q * (double)s->attempted);
	if (rank < 1)
		rank = 1;
	for (size_t b = 0; b < HD_STATS_BUCKETS; b++) {
		seen += s->hist[b];
		if (seen >= rank) {
			long low = bucket_low(b);
			return low > s->max_ms ? s->max_ms : low;
		}
	}
	return s->max_ms;
}

/* ---- error groups (space-saving) ------------------------------------ */

static void group_add(hd_stats_grouping *g, const char *name, long row,
		      const char *error)
{
	size_t min = 0;

	for (size_t i = 0; i < g->n; i++) {
		if (!strcmp(g->g[i].name, name)) {
			g->g[i].count++;
			return;
		}
		if (g->g[i].count < g->g[min].count)
			min = i;
	}
	if (g->n < HD_STATS_GROUPS) {
		min = g->n++;
		g->g[min].count = 0;
		g->g[min].over = 0;
	} else {
		/* the least counted name gives way; the newcomer inherits
		 * its count as the bound on its error */
		g->overflowed = 1;
		g->g[min].over = g->g[min].count;
	}
	copy_cut(g->g[min].name, sizeof(g->g[min].name), name);
	g->g[min].count++;
	g->g[min].first_row = row;
	copy_cut(g->g[min].sample, sizeof(g->g[min].sample),
		 error ? error : "");
}

static int group_cmp(const void *a, const void *b)
{
	const hd_stats_group *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->name, y->name);
}

size_t hd_report_stats_groups(const hd_stats_grouping *g, hd_stats_group *out,
			      size_t max)
{
	hd_stats_group *all;
	size_t n;

	if (!g || !out || !max)
		return 0;
	all = malloc(sizeof(*all) * (g->n ? g->n : 1));
	if (!all)
		return 0;
	memcpy(all, g->g, sizeof(*all) * g->n);
	qsort(all, g->n, sizeof(*all), group_cmp);
	n = g->n < max ? g->n : max;
	memcpy(out, all, sizeof(*all) * n);
	free(all);
	return n;
}

void hd_report_stats_domain(const char *key, char *out, size_t size)
{
	const char *at = key ? strrchr(key, '@') : NULL;
	const char *scheme = key ? strstr(key, "://") : NULL;
	const char *p;
	size_t n;

	if (scheme && scheme[3] && scheme > key &&
	    strspn(key, "abcdefghijklmnopqrstuvwxyz"
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-") ==
		(size_t)(scheme - key)) {
		/* a URL: its host, without user info and port */
		size_t auth;
		p = scheme + 3;
		auth = strcspn(p, "/?#");
		for (size_t i = auth; i > 0; i--)
			if (p[i - 1] == '@') {
				p += i;
				break;
			}
		n = strcspn(p, "/?#:");
	} else if (at && at[1]) {
		p = at + 1;
		n = strlen(p);
	} else {
		copy_cut(out, size, "(no domain)");
		return;
	}
	if (n >= size)
		n = size - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)p[i]);
	out[n] = '\0';
}

/* ---- slowest rows: a min-heap on (ms, -row) ---------------------------- */

/* 1 when a is faster than b (a lower ms, or the same ms and a later row):
 * the heap's root is the row to drop first. */
static int faster(const hd_stats_slow *a, const hd_stats_slow *b)
{
	if (a->ms != b->ms)
		return a->ms < b->ms;
	return a->row > b->row;
}

static void swap(hd_stats_slow *a, hd_stats_slow *b)
{
	hd_stats_slow t = *a;
	*a = *b;
	*b = t;
}

static void sift_down(hd_stats_slow *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && faster(&h[l], &h[m]))
			m = l;
		if (r < n && faster(&h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		swap(&h[i], &h[m]);
		i = m;
	}
}

static void slow_add(hd_report_stats *s, const hd_report_row *row)
{
	hd_stats_slow e;
	size_t i;

	if (!s->want)
		return;
	memset(&e, 0, sizeof(e));
	e.row = row->row;
	e.ms = row->ms;
	e.code = row->code;
	e.status = row->status;
	if (s->nslow == s->want) {
		if (!faster(&s->slow[0], &e))
			return;
		copy_cut(e.key, sizeof(e.key), row->key);
		copy_cut(e.error, sizeof(e.error), row->error);
		s->slow[0] = e;
		sift_down(s->slow, s->nslow, 0);
		return;
	}
	copy_cut(e.key, sizeof(e.key), row->key);
	copy_cut(e.error, sizeof(e.error), row->error);
	i = s->nslow++;
	s->slow[i] = e;
	while (i > 0 && faster(&s->slow[i], &s->slow[(i - 1) / 2])) {
		swap(&s->slow[i], &s->slow[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
}

static int slow_cmp(const void *a, const void *b)
{
	const hd_stats_slow *x = a, *y = b;

	if (x->ms != y->ms)
		return x->ms > y->ms ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

size_t hd_report_stats_slowest(const hd_report_stats *s, hd_stats_slow *out,
			       size_t max)
{
	size_t n;

	if (!s || !out)
		return 0;
	n = s->nslow < max ? s->nslow : max;
	if (n == s->nslow) {
		memcpy(out, s->slow, sizeof(*out) * n);
		qsort(out, n, sizeof(*out), slow_cmp);
		return n;
	}
	{
		hd_stats_slow *all = malloc(sizeof(*all) * s->nslow);
		if (!all)
			return 0;
		memcpy(all, s->slow, sizeof(*all) * s->nslow);
		qsort(all, s->nslow, sizeof(*all), slow_cmp);
		memcpy(out, all, sizeof(*out) * n);
		free(all);
	}
	return n;
}

/* ---- timeline ----------------------------------------------------------- */

/* Bins twice as wide: pairs merge, t0 stays. */
static void merge_bins(hd_report_stats *s)
{
	for (size_t i = 0; i < HD_STATS_BINS / 2; i++) {
		s->sent_bins[i] = s->sent_bins[2 * i] + s->sent_bins[2 * i + 1];
		s->failed_bins[i] =
		    s->failed_bins[2 * i] + s->failed_bins[2 * i + 1];
	}
	memset(s->sent_bins + HD_STATS_BINS / 2, 0,
	       sizeof(long) * (HD_STATS_BINS / 2));
	memset(s->failed_bins + HD_STATS_BINS / 2, 0,
	       sizeof(long) * (HD_STATS_BINS / 2));
	s->used = (s->used + 1) / 2;
	s->width *= 2;
}

/* Moves every bin k to the right (the run has an earlier row). */
static void shift_bins(hd_report_stats *s, size_t k)
{
	memmove(s->sent_bins + k, s->sent_bins, sizeof(long) * s->used);
	memmove(s->failed_bins + k, s->failed_bins, sizeof(long) * s->used);
	memset(s->sent_bins, 0, sizeof(long) * k);
	memset(s->failed_bins, 0, sizeof(long) * k);
	s->used += k;
	s->t0 -= (double)k * s->width;
}

static void timeline_add(hd_report_stats *s, double at, hd_row_status st)
{
	double rel;

	if (!(at > 0) || !isfinite(at) || at > 1e11)
		return;
	if (s->first_at == 0) {
		s->first_at = s->last_at = at;
		s->t0 = floor(at);
	}
	if (at < s->first_at)
		s->first_at = at;
	if (at > s->last_at)
		s->last_at = at;
	if (st != HD_ROW_SENT && st != HD_ROW_FAILED)
		return;
	for (;;) {
		rel = floor((at - s->t0) / s->width);
		if (rel >= 0 && rel < HD_STATS_BINS)
			break;
		if (rel < 0 && s->used + (size_t)(-rel) <= HD_STATS_BINS)
			shift_bins(s, (size_t)(-rel));
		else
			merge_bins(s);
	}
	if ((size_t)rel + 1 > s->used)
		s->used = (size_t)rel + 1;
	if (st == HD_ROW_SENT)
		s->sent_bins[(size_t)rel]++;
	else
		s->failed_bins[(size_t)rel]++;
}

void hd_report_stats_add(hd_report_stats *s, const hd_report_row *row)
{
	char name[96];

	if (!s || !row)
		return;
	s->rows++;
	if ((unsigned)row->status < HD_STATS_STATUSES)
		s->by_status[row->status]++;
	s->attempts += row->attempts > 0 ? row->attempts : 0;
	if (row->attempts > 0) {
		s->attempted++;
		s->hist[bucket_of(row->ms)]++;
		if (row->ms > s->max_ms)
			s->max_ms = row->ms;
		slow_add(s, row);
	}
	if (row->status == HD_ROW_FAILED || row->status == HD_ROW_UNCERTAIN) {
		if (row->code)
			snprintf(name, sizeof(name), "%ld", row->code);
		else
			snprintf(name, sizeof(name), "none");
		group_add(&s->by_code, name, row->row, row->error);
		hd_report_stats_domain(row->key, name, sizeof(name));
		group_add(&s->by_domain, name, row->row, row->error);
	}
	timeline_add(s, row->at, row->status);
}
