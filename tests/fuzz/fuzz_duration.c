/*
 * tests/fuzz/fuzz_duration.c - libFuzzer harness: durations
 * (core/host/duration.c). What parses is within 0..PGM_DURATION_MAX_MS,
 * and what format writes, parse reads back to the same value.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char err[256], buf[64];
	long long ms = -1, back = -1;
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (pgm_duration_parse(text, &ms, err, sizeof(err)) == 0) {
		if (ms < 0 || ms > PGM_DURATION_MAX_MS)
			abort();
		pgm_duration_format(ms, buf, sizeof(buf));
		if (pgm_duration_parse(buf, &back, err, sizeof(err)) != 0 || back != ms)
			abort();
	} else if (!err[0]) {
		abort(); /* a refusal says why */
	}
	/* any value formats into any buffer without overrunning it */
	if (size >= 8) {
		long long v;
		memcpy(&v, data, sizeof(v));
		pgm_duration_format(v, buf, (size_t)(data[0] % sizeof(buf)));
	}
	free(text);
	return 0;
}
