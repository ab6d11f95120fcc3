/*
 * shard.h — which of N machines takes a row, with no coordination
 * (internal; the choosing of K/N is public: hd_shard_choose in herald.h).
 *
 * DESCRIPTION
 *	A row belongs to shard hd_key_hash(identity) mod N, where identity
 *	is the key's identity as key.h makes it (the key, ASCII-lower-cased
 *	where case does not matter).  hd_key_hash is FNV-1a 64 over the
 *	identity's bytes, then the MurmurHash3 fmix64 finalizer, 0 taken as
 *	1 (dedupe.c; README "Shards" writes it out in Python).  It is the
 *	same on every machine and must stay the same in every version:
 *	tests/test_shard.c freezes it with test vectors, so changing it
 *	fails the build's tests rather than splitting a list differently
 *	on machines running different versions.
 *
 *	A row with no key (its key field is missing or empty, its envelope
 *	cannot be rendered) has no identity: it belongs to shard
 *	(row - 1) mod N, so that exactly one machine reports it invalid.
 *
 *	Rows with one key are in one shard, so each machine finds the
 *	duplicates of its own rows, and each machine's journal knows all of
 *	its keys.
 *
 * THREAD-SAFETY
 *	No state.
 */
#ifndef HD_SHARD_H
#define HD_SHARD_H

#include "herald.h"

/* The shard (0 .. n-1) of a row whose key identity is id (NULL: the row
 * has none), row its 1-based number; n >= 1. */
long hd__shard_of(const char *id, long row, long n);

#endif
