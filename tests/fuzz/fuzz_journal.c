/*
 * tests/fuzz/fuzz_journal.c - libFuzzer harness: journal replay and the
 * run state (core/engine/journal.c, state.c). The input is a journal;
 * replay either refuses it with a message or gives a state that converts
 * to JSON, saves as state.json and loads back from it to the same JSON.
 */
#include "config.h"

#include <stdint.h>

#include "fuzz_common.h"
#include "journal.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[128], path[192], err[1024];
	snprintf(dir, sizeof(dir), "%s/run", fuzz_scratch());
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/journal.jsonl", dir);
	fuzz_write(path, data, size);
	long long end = 0;
	err[0] = '\0';
	run_state *st = state_load_at(dir, &end, err, sizeof(err));
	if (!st) {
		if (!err[0])
			abort(); /* a refusal says why */
		return 0;
	}
	json_t *a = state_to_json(st);
	if (!a)
		abort();
	if (end > 0 && state_snapshot_save(st, dir, end) == 0) {
		run_state *again = state_load(dir, err, sizeof(err));
		if (!again)
			abort();
		json_t *b = state_to_json(again);
		/* the cache does not change what a reader sees */
		if (!b || !json_equal(a, b))
			abort();
		json_decref(b);
		state_free(again);
	}
	json_decref(a);
	state_free(st);
	return 0;
}
