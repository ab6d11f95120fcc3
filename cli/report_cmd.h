/*
 * report_cmd.h — herald report FILE [--html OUT] [--slowest N]: reads a
 * results report (JSONL or CSV) once, streaming, and prints its summary
 * on stdout; --html also writes it as one self-contained page.
 */
#ifndef HERALD_CLI_REPORT_CMD_H
#define HERALD_CLI_REPORT_CMD_H

#include "options.h"

/* Returns the exit code: 0, 65 a malformed report (one line naming
 * file:line), 66 a missing report, 73 the page cannot be written. */
int report_command(const struct options *o);

#endif
