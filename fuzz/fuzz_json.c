/* fuzz_json.c — the JSON array reader (lib/source_json.c): the bytes are
 * a .json recipients file.  Checks: fuzz/readers.c. */
#include "fuzz.h"
#include "source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_source(data, size, HD_FORMAT_JSON, 0);
	return 0;
}
