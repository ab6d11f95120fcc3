/*
 * fuzz_csv.c — the CSV reader (lib/source_csv.c), with many delimiters.
 *
 * The first byte picks the delimiter: itself when herald accepts it as
 * one (ASCII, not '"', CR, LF or NUL), else an entry of the table below;
 * the rest is the file.  Checks: fuzz/readers.c.
 */
#include "fuzz.h"
#include "source.h"

static const char delimiters[] = {',', ';', '\t', '|', ' ', ':'};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char delim = ',';

	if (size > 0) {
		unsigned char c = data[0];
		if (c < 0x80 && c != '"' && c != '\r' && c != '\n' && c != 0)
			delim = (char)c;
		else
			delim = delimiters[c % sizeof(delimiters)];
		data++;
		size--;
	}
	fuzz_source(data, size, HD_FORMAT_CSV, delim);
	return 0;
}
