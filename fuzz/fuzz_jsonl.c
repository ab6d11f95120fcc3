/* fuzz_jsonl.c — the JSON Lines reader (lib/source_json.c): the bytes are
 * a .jsonl recipients file.  Checks: fuzz/readers.c. */
#include "fuzz.h"
#include "source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_source(data, size, HD_FORMAT_JSONL, 0);
	return 0;
}
