/*
 * fuzz.h — what the fuzz harnesses share (fuzz/fuzz_*.c).
 *
 * Each harness is one libFuzzer entry point, LLVMFuzzerTestOneInput(),
 * that feeds the bytes it is given to one of libherald's parsers and
 * checks what the parser promises besides not crashing: errors are one
 * printable line with a known code, a second pass reads what the first
 * read, what is built for a recipient keeps its structure.  A broken
 * promise calls fuzz_fail(), which aborts, so libFuzzer keeps the input
 * as a crasher.
 *
 * The same harness files are linked two ways (fuzz/CMakeLists.txt):
 *   fuzz_NAME         with libFuzzer (clang, -DHERALD_FUZZ=ON), to search;
 *   fuzz_replay_NAME  with fuzz/replay.c's main(), in every build, to run
 *                     the harness over files: ctest replays each crasher
 *                     kept in fuzz/regressions/NAME/.
 *
 * Harnesses keep their scratch files in one temporary folder per process
 * (fuzz_tmpdir()), removed at exit.
 */
#ifndef HD_FUZZ_H
#define HD_FUZZ_H

#include "herald.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reports what broke and aborts. */
void fuzz_fail(const char *fmt, ...) HD_PRINTF(1, 2) __attribute__((noreturn));

#define FUZZ_ASSERT(cond, ...)                                                 \
	do {                                                                   \
		if (!(cond))                                                   \
			fuzz_fail(__VA_ARGS__);                                \
	} while (0)

/* A private folder for this process, made on first use, removed (with
 * what is in it) at exit. */
const char *fuzz_tmpdir(void);

/* Writes data to dir/name (fuzz_tmpdir() when dir is NULL), replacing it;
 * returns the path in a static buffer. */
const char *fuzz_write(const char *dir, const char *name, const void *data,
		       size_t size);

/* The error promise: err is filled (a code other than HD_OK, a message),
 * and what herald prints for it is one line of printable text (no control
 * byte that could end the line or drive a terminal).  what names the
 * caller in the failure message. */
void fuzz_check_error(const hd_error *err, hd_status rc, const char *what);

/* A failure's promise: fuzz_check_error (when err is not NULL), and rc
 * is one of the n codes the function documents. */
void fuzz_check_failure(const hd_error *err, hd_status rc, const char *what,
			const hd_status *codes, size_t n);
#define FUZZ_CHECK_FAILURE(err, rc, what, codes)                               \
	fuzz_check_failure(err, rc, what, codes, sizeof(codes) / sizeof(*codes))

/* Splits data at the first NUL: *a gets the part before it, *b what
 * follows (NULL, 0 when there is no NUL). */
void fuzz_split(const uint8_t *data, size_t size, const uint8_t **a,
		size_t *alen, const uint8_t **b, size_t *blen);

/* The reader harnesses (csv, json, jsonl): reads data as a recipients
 * file of this format twice and checks both passes agree (readers.c). */
void fuzz_source(const uint8_t *data, size_t size, int format, char delim);

#endif
