/*
 * dedupe.h — finding repeated recipient keys without memory that grows
 * with the list (internal).
 *
 * Pass 1 feeds every key's 64-bit hash to a Bloom filter that grows with
 * the list in layers: HD_DEDUPE_FIRST_BYTES first, each next layer twice
 * the last, or as large as the keys still expected need when the caller
 * said how many to expect (hd_dedupe_expect); HD_DEDUPE_LAYERS layers
 * and HD_DEDUPE_MAX_BYTES in all at most (room for about two million keys
 * at a 0.1% false positive rate; beyond that the last layer fills further
 * and only the rate rises).  A small list costs 64 KiB, not the whole
 * filter.  A hash the filter may have seen before becomes
 * a "suspect".  Pass 2 keeps the exact key strings only for rows whose
 * hash is a suspect: the first of them goes, later equal keys are
 * duplicates.  Memory is the filter plus what real duplicates and the
 * filter's rare false positives need.  Keys are compared exactly, so a
 * hash collision never drops a row.
 *
 * Not thread-safe: the coordinating thread alone uses it (and a keyset).
 */
#ifndef HD_DEDUPE_H
#define HD_DEDUPE_H

#include "herald.h"

#include <stddef.h>
#include <stdint.h>

#define HD_DEDUPE_FIRST_BYTES (64u << 10)
#define HD_DEDUPE_LAYERS 6
#define HD_DEDUPE_MAX_BYTES (HD_DEDUPE_FIRST_BYTES * 63u) /* 4032 KiB */

typedef struct hd_dedupe hd_dedupe;

hd_dedupe *hd_dedupe_new(void);
void hd_dedupe_free(hd_dedupe *d);

uint64_t hd_key_hash(const char *key, size_t len);

/* About keys keys in all are to be noted (an estimate: the list's size
 * over the bytes a row took so far).  The next layer, when one is made,
 * gets room for those still to come instead of twice the last, so the
 * filter stays near 2 bytes a key: doubling gave 1.9 MiB for a million
 * keys but 3.9 MiB for 1.1 million.  0: no estimate. */
void hd_dedupe_expect(hd_dedupe *d, size_t keys);

/* Pass 1: notes a key. */
hd_status hd_dedupe_note(hd_dedupe *d, const char *key, size_t len);

/* Pass 2: 1 when an earlier row had the same key, 0 when this is the
 * first, -1 out of memory. */
int hd_dedupe_seen(hd_dedupe *d, const char *key, size_t len);

/* Number of suspect hashes, and the filter's bytes (for tests and
 * benchmarks). */
size_t hd_dedupe_suspects(const hd_dedupe *d);
size_t hd_dedupe_bytes(const hd_dedupe *d);

/* An exact set of keys (for a list of keys read up front, such as the rows
 * an earlier report lists as failed).  Memory grows with what is added. */
typedef struct hd_keyset hd_keyset;

hd_keyset *hd_keyset_new(void);
void hd_keyset_free(hd_keyset *k);
/* 1 when added, 0 when it was there already, -1 out of memory. */
int hd_keyset_add(hd_keyset *k, const char *key, size_t len);
int hd_keyset_has(const hd_keyset *k, const char *key, size_t len);
size_t hd_keyset_count(const hd_keyset *k);
/* 1 when removed, 0 when it was not there. */
int hd_keyset_remove(hd_keyset *k, const char *key, size_t len);

/*
 * The keys seen lately, exactly, for a run that reads its list once (no
 * first pass to note every key): a key is a repeat when it is among the
 * last `keep` distinct keys at least (and at most 2 * keep): two
 * generations of exact sets, the older dropped when the newer is full.
 * Memory is bounded by 2 * keep keys, whatever the list's length; an
 * older repeat is not found here (the journal finds it when it was sent).
 */
typedef struct hd_recent hd_recent;

#define HD_RECENT_KEYS 65536 /* what a one-pass run keeps */

hd_recent *hd_recent_new(size_t keep);
void hd_recent_free(hd_recent *r);
/* 1 when key was seen lately, 0 when not (it is noted now), -1 out of
 * memory. */
int hd_recent_seen(hd_recent *r, const char *key, size_t len);
/* 1 when key was seen lately, else 0; notes nothing. */
int hd_recent_has(const hd_recent *r, const char *key, size_t len);

#endif
