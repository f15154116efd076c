/*
 * tests/plugins/badplugs.c - plugins that must fail to load, each built
 * from this file with one of BAD_ABI, BAD_INIT, BAD_NAME defined (or none:
 * a module without the descriptor symbol).
 */
#include "pgmove/plugin.h"

static json_t *fn_x(pgm_call *call, json_t *args)
{
	(void)call;
	(void)args;
	return json_true();
}

static const pgm_function functions[] = {
	{ "x", fn_x, PGM_FN_IDEMPOTENT, "does nothing", NULL },
	{ NULL, NULL, 0, NULL, NULL },
};

#if defined(BAD_ABI)
PGMOVE_PLUGIN(badabi) = {
	.abi = 999, .name = "badabi", .version = "0", .summary = "wrong ABI", .functions = functions,
};
#elif defined(BAD_INIT)
static int init_fails(void)
{
	pgm_error("badinit: cannot find its configuration");
	return -1;
}
PGMOVE_PLUGIN(badinit) = {
	.abi = PGMOVE_PLUGIN_ABI, .name = "badinit", .version = "0", .summary = "init fails",
	.init = init_fails, .functions = functions,
};
#else
/* nosym: exports something else */
extern const pgm_function *nosym_LTX_something;
const pgm_function *nosym_LTX_something = functions;
#endif
