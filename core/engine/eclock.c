/*
 * core/engine/eclock.c - the engine's clock (real or virtual) and the
 * plugin-call seam (see eclock.h).
 */
#include "config.h"

#include <time.h>

#include "eclock.h"
#include "host.h"

static int virt;	       /* the clock is virtual          */
static long long virt_wall0;   /* epoch ms at the virtual start */
static long long virt_elapsed; /* virtual ms since the start    */
static eclock_dispatch_fn dispatch;
static void *dispatch_user;
static eclock_journal_fn journal_hook;
static void *journal_user;

long long eclock_mono_ms(void)
{
	/* virtual monotonic time starts high so "0 = none" deadlines stay apart */
	return virt ? 1000000000LL + virt_elapsed : pgm_now_ms();
}

long long eclock_wall_ms(void)
{
	struct timespec ts;
	if (virt)
		return virt_wall0 + virt_elapsed;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int eclock_sleep_ms(long long ms, long long deadline_ms)
{
	if (ms < 0)
		ms = 0;
	if (virt) {
		if (pgm_cancel_signal() != 0)
			return -1;
		if (deadline_ms > 0 && eclock_mono_ms() + ms > deadline_ms) {
			if (deadline_ms > eclock_mono_ms())
				virt_elapsed += deadline_ms - eclock_mono_ms();
			return -1;
		}
		virt_elapsed += ms;
		return 0;
	}
	pgm_call *c = pgm_call_new(NULL, NULL);
	if (deadline_ms > 0)
		pgm_call_set_deadline_ms(c, deadline_ms);
	int rc = pgm_sleep_ms(c, ms);
	pgm_call_free(c);
	return rc;
}

void eclock_set_virtual(long long wall_ms, long long elapsed_ms)
{
	virt = 1;
	virt_wall0 = wall_ms;
	virt_elapsed = elapsed_ms;
}

long long eclock_virtual_elapsed(void)
{
	return virt ? virt_elapsed : -1;
}

void eclock_set_dispatch(eclock_dispatch_fn fn, void *user)
{
	dispatch = fn;
	dispatch_user = user;
}

eclock_dispatch_fn eclock_dispatch(void **user)
{
	if (user)
		*user = dispatch_user;
	return dispatch;
}

void eclock_set_journal_hook(eclock_journal_fn fn, void *user)
{
	journal_hook = fn;
	journal_user = user;
}

void eclock_journaled(const json_t *event)
{
	if (journal_hook)
		journal_hook(journal_user, event);
}
