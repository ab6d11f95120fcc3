/* dedupe.c — a Bloom filter in layers plus exact sets for the suspects. */
#include "dedupe.h"

#include <stdlib.h>
#include <string.h>

/* An open-addressing set of 64-bit hashes; 0 marks an empty slot, so the
 * hash 0 is stored as 1 (a suspect too many costs nothing). */
struct hset {
	uint64_t *slot;
	size_t cap, n;
};

/* An open-addressing set of strings (the suspects' exact keys). */
struct sentry {
	uint64_t h;
	char *key;
	size_t len;
};
struct sset {
	struct sentry *slot;
	size_t cap, n;
};

static void sset_free(struct sset *s);

/* One layer of the filter: PROBES bits a key, BITS_PER_KEY bits of room
 * for each key it takes (a false positive rate of about 0.1%). */
struct layer {
	unsigned char *bits;
	uint64_t nbits;
	size_t keys, room;
};

struct hd_dedupe {
	struct layer layer[HD_DEDUPE_LAYERS];
	int top;       /* layers made; keys go into the last */
	size_t expect; /* keys expected in all (hd_dedupe_expect), or 0 */
	struct hset suspects;
	struct sset seen;
};

#define PROBES 6
#define BITS_PER_KEY 16

uint64_t hd_key_hash(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h ? h : 1;
}

/* The next layer's bytes: the first HD_DEDUPE_FIRST_BYTES; then room for
 * the keys still expected (an estimate that falls short is followed by
 * another layer), or without an estimate twice the last; never less than
 * HD_DEDUPE_FIRST_BYTES, never past HD_DEDUPE_MAX_BYTES in all.  0: no
 * more. */
static size_t next_bytes(const hd_dedupe *d)
{
	size_t used = hd_dedupe_bytes(d), noted = 0, left, bytes;

	if (d->top == 0)
		return HD_DEDUPE_FIRST_BYTES;
	if (d->top == HD_DEDUPE_LAYERS || used >= HD_DEDUPE_MAX_BYTES)
		return 0;
	left = HD_DEDUPE_MAX_BYTES - used;
	bytes = (size_t)(d->layer[d->top - 1].nbits / 8) * 2;
	for (int i = 0; i < d->top; i++)
		noted += d->layer[i].keys;
	if (d->expect > noted) {
		size_t more = d->expect - noted;
		bytes = more / 8 >= left / BITS_PER_KEY
			    ? left
			    : (more + 7) / 8 * BITS_PER_KEY;
	}
	if (bytes < HD_DEDUPE_FIRST_BYTES)
		bytes = HD_DEDUPE_FIRST_BYTES;
	if (bytes > left)
		bytes = left;
	return bytes < HD_DEDUPE_FIRST_BYTES ? 0 : bytes;
}

/* Adds the next layer (next_bytes); -1 when there is no room or memory
 * for it (the last layer then takes more keys than it has room for: more
 * suspects, never a lost row). */
static int add_layer(hd_dedupe *d)
{
	size_t bytes = next_bytes(d);
	struct layer *l = &d->layer[d->top];

	if (!bytes || !(l->bits = calloc(1, bytes)))
		return -1;
	l->nbits = (uint64_t)bytes * 8;
	l->room = (size_t)(l->nbits / BITS_PER_KEY);
	l->keys = 0;
	d->top++;
	return 0;
}

hd_dedupe *hd_dedupe_new(void)
{
	hd_dedupe *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	if (add_layer(d) != 0) {
		free(d);
		return NULL;
	}
	return d;
}

void hd_dedupe_expect(hd_dedupe *d, size_t keys)
{
	if (d)
		d->expect = keys;
}

size_t hd_dedupe_bytes(const hd_dedupe *d)
{
	size_t n = 0;

	for (int i = 0; i < d->top; i++)
		n += (size_t)(d->layer[i].nbits / 8);
	return n;
}

void hd_dedupe_free(hd_dedupe *d)
{
	if (!d)
		return;
	sset_free(&d->seen);
	free(d->suspects.slot);
	for (int i = 0; i < d->top; i++)
		free(d->layer[i].bits);
	free(d);
}

static int hset_grow(struct hset *s)
{
	size_t cap = s->cap ? s->cap * 2 : 1024;
	uint64_t *slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -1;
	for (size_t i = 0; i < s->cap; i++) {
		uint64_t h = s->slot[i];
		size_t j;
		if (!h)
			continue;
		for (j = h & (cap - 1); slot[j]; j = (j + 1) & (cap - 1))
			;
		slot[j] = h;
	}
	free(s->slot);
	s->slot = slot;
	s->cap = cap;
	return 0;
}

static int hset_has(const struct hset *s, uint64_t h)
{
	if (!s->cap)
		return 0;
	for (size_t j = h & (s->cap - 1); s->slot[j];
	     j = (j + 1) & (s->cap - 1))
		if (s->slot[j] == h)
			return 1;
	return 0;
}

static int hset_add(struct hset *s, uint64_t h)
{
	size_t j;

	if (hset_has(s, h))
		return 0;
	if ((s->n + 1) * 2 > s->cap && hset_grow(s) != 0)
		return -1;
	for (j = h & (s->cap - 1); s->slot[j]; j = (j + 1) & (s->cap - 1))
		;
	s->slot[j] = h;
	s->n++;
	return 0;
}

/* PROBES bits by double hashing over one layer's bits: 1 when all were
 * set already; with set, sets them. */
static int bloom_probe(const struct layer *l, uint64_t h, int set)
{
	uint64_t a = h, b = (h >> 32) | (h << 32) | 1;
	int all = 1;

	for (int i = 0; i < PROBES; i++) {
		uint64_t bit = (a + (uint64_t)i * b) % l->nbits;
		unsigned char mask = (unsigned char)(1u << (bit & 7));
		if (!(l->bits[bit >> 3] & mask)) {
			all = 0;
			if (!set)
				return 0;
			l->bits[bit >> 3] |= mask;
		}
	}
	return all;
}

hd_status hd_dedupe_note(hd_dedupe *d, const char *key, size_t len)
{
	uint64_t h = hd_key_hash(key, len);
	struct layer *cur = &d->layer[d->top - 1];
	int maybe = 0;

	for (int i = 0; i < d->top - 1 && !maybe; i++)
		maybe = bloom_probe(&d->layer[i], h, 0);
	if (!maybe) {
		/* a new key (as far as the filter knows) takes room in the
		 * newest layer; once that is full, a larger one follows */
		if (cur->keys >= cur->room && d->top < HD_DEDUPE_LAYERS &&
		    add_layer(d) == 0)
			cur = &d->layer[d->top - 1];
		maybe = bloom_probe(cur, h, 1);
		cur->keys++;
	}
	if (maybe && hset_add(&d->suspects, h) != 0)
		return HD_ENOMEM;
	return HD_OK;
}

static int sset_grow(struct sset *s)
{
	size_t cap = s->cap ? s->cap * 2 : 256;
	struct sentry *slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -1;
	for (size_t i = 0; i < s->cap; i++) {
		size_t j;
		if (!s->slot[i].key)
			continue;
		for (j = s->slot[i].h & (cap - 1); slot[j].key;
		     j = (j + 1) & (cap - 1))
			;
		slot[j] = s->slot[i];
	}
	free(s->slot);
	s->slot = slot;
	s->cap = cap;
	return 0;
}

static int sset_has(const struct sset *s, uint64_t h, const char *key,
		    size_t len)
{
	for (size_t j = s->cap ? h & (s->cap - 1) : 0; s->cap && s->slot[j].key;
	     j = (j + 1) & (s->cap - 1))
		if (s->slot[j].h == h && s->slot[j].len == len &&
		    memcmp(s->slot[j].key, key, len) == 0)
			return 1;
	return 0;
}

/* 1 when added, 0 when it was there, -1 out of memory. */
static int sset_add(struct sset *s, uint64_t h, const char *key, size_t len)
{
	size_t j;

	if (sset_has(s, h, key, len))
		return 0;
	if ((s->n + 1) * 2 > s->cap && sset_grow(s) != 0)
		return -1;
	for (j = h & (s->cap - 1); s->slot[j].key; j = (j + 1) & (s->cap - 1))
		;
	s->slot[j].key = malloc(len + 1);
	if (!s->slot[j].key)
		return -1;
	memcpy(s->slot[j].key, key, len);
	s->slot[j].key[len] = '\0';
	s->slot[j].h = h;
	s->slot[j].len = len;
	s->n++;
	return 1;
}

static void sset_free(struct sset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i].key);
	free(s->slot);
}

int hd_dedupe_seen(hd_dedupe *d, const char *key, size_t len)
{
	uint64_t h = hd_key_hash(key, len);

	if (!hset_has(&d->suspects, h))
		return 0; /* certainly the only row with this key */
	switch (sset_add(&d->seen, h, key, len)) {
	case 0:
		return 1;
	case 1:
		return 0;
	default:
		return -1;
	}
}

struct hd_keyset {
	struct sset s;
};

hd_keyset *hd_keyset_new(void)
{
	return calloc(1, sizeof(hd_keyset));
}

void hd_keyset_free(hd_keyset *k)
{
	if (!k)
		return;
	sset_free(&k->s);
	free(k);
}

int hd_keyset_add(hd_keyset *k, const char *key, size_t len)
{
	return sset_add(&k->s, hd_key_hash(key, len), key, len);
}

int hd_keyset_has(const hd_keyset *k, const char *key, size_t len)
{
	return sset_has(&k->s, hd_key_hash(key, len), key, len);
}

size_t hd_keyset_count(const hd_keyset *k)
{
	return k->s.n;
}

int hd_keyset_remove(hd_keyset *k, const char *key, size_t len)
{
	struct sset *s = &k->s;
	uint64_t h = hd_key_hash(key, len);
	size_t mask = s->cap - 1, i, j;

	if (!s->cap)
		return 0;
	for (i = h & mask; s->slot[i].key; i = (i + 1) & mask)
		if (s->slot[i].h == h && s->slot[i].len == len &&
		    memcmp(s->slot[i].key, key, len) == 0)
			break;
	if (!s->slot[i].key)
		return 0;
	free(s->slot[i].key);
	s->slot[i].key = NULL;
	s->n--;
	/* backward shift: later entries of the probe run move up, so no
	 * lookup stops at the hole */
	for (j = (i + 1) & mask; s->slot[j].key; j = (j + 1) & mask) {
		size_t home = s->slot[j].h & mask;
		/* j's entry may move to i when its home is not in (i, j] */
		if (i <= j ? (home <= i || home > j)
			   : (home <= i && home > j)) {
			s->slot[i] = s->slot[j];
			s->slot[j].key = NULL;
			i = j;
		}
	}
	return 1;
}

struct hd_recent {
	hd_keyset *now, *before;
	size_t keep;
};

hd_recent *hd_recent_new(size_t keep)
{
	hd_recent *r = calloc(1, sizeof(*r));

	if (!r || !(r->now = hd_keyset_new()) ||
	    !(r->before = hd_keyset_new())) {
		hd_recent_free(r);
		return NULL;
	}
	r->keep = keep ? keep : 1;
	return r;
}

void hd_recent_free(hd_recent *r)
{
	if (!r)
		return;
	hd_keyset_free(r->now);
	hd_keyset_free(r->before);
	free(r);
}

int hd_recent_has(const hd_recent *r, const char *key, size_t len)
{
	return hd_keyset_has(r->now, key, len) ||
	       hd_keyset_has(r->before, key, len);
}

int hd_recent_seen(hd_recent *r, const char *key, size_t len)
{
	if (hd_recent_has(r, key, len))
		return 1;
	if (hd_keyset_count(r->now) >= r->keep) {
		hd_keyset *fresh = hd_keyset_new();
		if (!fresh)
			return -1;
		hd_keyset_free(r->before);
		r->before = r->now;
		r->now = fresh;
	}
	return hd_keyset_add(r->now, key, len) < 0 ? -1 : 0;
}

size_t hd_dedupe_suspects(const hd_dedupe *d)
{
	return d->suspects.n;
}
