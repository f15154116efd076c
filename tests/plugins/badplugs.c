/*
 * tests/plugins/badplugs.c - plugins that must fail to load, each built
 * from this file with one of BAD_ABI, BAD_INIT, BAD_UNDEF, BAD_NULLFN,
 * BAD_DUP, BAD_TYPE, BAD_DEFAULT, BAD_NEWER defined (or none: a module
 * without the descriptor symbol).
 */
#include "pgmove/plugin.h"

static json_t *fn_x(pgm_call *call, json_t *args)
{
	(void)call;
	(void)args;
	return json_true();
}

/* used by some of the variants only */
__attribute__((unused)) static const pgm_function functions[] = {
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
#elif defined(BAD_UNDEF)
/* undefsym: calls a function no library defines (linked without -z defs) */
extern int pgmove_test_no_such_function(void);
static json_t *fn_undef(pgm_call *call, json_t *args)
{
	(void)call;
	(void)args;
	return json_integer(pgmove_test_no_such_function());
}
static const pgm_function undef_functions[] = {
	{ "x", fn_undef, 0, "calls an undefined function", NULL },
	{ NULL, NULL, 0, NULL, NULL },
};
PGMOVE_PLUGIN(undefsym) = {
	.abi = PGMOVE_PLUGIN_ABI, .name = "undefsym", .version = "0", .summary = "undefined symbol",
	.functions = undef_functions,
};
#elif defined(BAD_NULLFN)
static const pgm_function nullfn_functions[] = {
	{ "x", fn_x, 0, "fine", NULL },
	{ "y", NULL, 0, "no function pointer", NULL },
	{ NULL, NULL, 0, NULL, NULL },
};
PGMOVE_PLUGIN(nullfn) = {
	.abi = PGMOVE_PLUGIN_ABI, .name = "nullfn", .version = "0", .summary = "NULL function",
	.functions = nullfn_functions,
};
#elif defined(BAD_DUP)
static const pgm_function dup_functions[] = {
	{ "x", fn_x, 0, "one", NULL },
	{ "x", fn_x, 0, "two", NULL },
	{ NULL, NULL, 0, NULL, NULL },
};
PGMOVE_PLUGIN(dupfn) = {
	.abi = PGMOVE_PLUGIN_ABI, .name = "dupfn", .version = "0", .summary = "duplicate names",
	.functions = dup_functions,
};
#elif defined(BAD_TYPE)
static const pgm_param p_typo[] = {
	{ .name = "table", .type = "sting", .summary = "a typo" },
	{ 0 },
};
static const pgm_function type_functions[] = {
	{ "x", fn_x, 0, "a parameter of an unknown type", p_typo },
	{ NULL, NULL, 0, NULL, NULL },
};
PGMOVE_PLUGIN(badtype) = {
	.abi = PGMOVE_PLUGIN_ABI, .name = "badtype", .version = "0", .summary = "unknown type",
	.functions = type_functions,
};
#elif defined(BAD_DEFAULT)
static const pgm_param p_dflt[] = {
	{ .name = "jobs", .type = "integer", .dflt = "99", .min = "1", .max = "16",
	  .summary = "a default above its max" },
	{ 0 },
};
static const pgm_function dflt_functions[] = {
	{ "x", fn_x, 0, "a default that breaks its own limit", p_dflt },
	{ NULL, NULL, 0, NULL, NULL },
};
PGMOVE_PLUGIN(baddefault) = {
	.abi = PGMOVE_PLUGIN_ABI, .name = "baddefault", .version = "0", .summary = "bad default",
	.functions = dflt_functions,
};
#elif defined(BAD_NEWER)
PGMOVE_PLUGIN(newer) = {
	.abi = PGMOVE_PLUGIN_ABI, .name = "newer", .version = "0", .summary = "needs pgmove 99",
	.functions = functions, .min_pgmove = 990000,
};
#else
/* nosym: exports something else */
extern const pgm_function *nosym_LTX_something;
const pgm_function *nosym_LTX_something = functions;
#endif
