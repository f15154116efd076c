// flags.cc - an example pgmove plugin in C++: reads a feature flag from an
// HTTP flag service (seed 001's staged cutover: "is read_from_aurora on, and
// for what percentage?"). What C++ changes, against pgmove-plugin(3):
//
//  - pgmove is C: every function pgmove calls (the functions of the table,
//    init, fini) has C linkage (extern "C") and lets no exception out. Each
//    one runs its body in guarded(), which turns an exception into the
//    call's structured error (pgm_fail), so a throw is never a crash.
//  - The descriptor is a C aggregate: written in member order (C++20 allows
//    designated initializers in that order; this file builds as C++17).
//  - Static objects with constructors run when pgmove loads the plugin:
//    keep them trivial (this file has none).
//  - Link with the C++ compiler (pgmove-plugin.mk does for .cc sources) and
//    -Wl,-z,defs; libstdc++ comes with it.
#include <exception>
#include <stdexcept>
#include <string>

#include <pgmove/plugin.h>

namespace {

// guarded - runs body(call, args); an exception becomes the call's error.
template <typename Body> json_t *guarded(pgm_call *call, json_t *args, Body body)
{
	try {
		return body(call, args);
	} catch (const std::invalid_argument &e) {
		return pgm_fail(call, "args.invalid", 0, "%s", e.what());
	} catch (const std::exception &e) {
		return pgm_fail(call, "flags.error", 0, "%s", e.what());
	} catch (...) {
		return pgm_fail(call, "flags.error", 0, "an unknown C++ exception");
	}
}

// arg - a string argument, or the default; throws when required and absent.
std::string arg(json_t *args, const char *name, const char *dflt)
{
	const char *v = json_string_value(json_object_get(args, name));
	if (v)
		return v;
	if (!dflt)
		throw std::invalid_argument(std::string("argument '") + name + "' is required");
	return dflt;
}

// get - GET <url>/flags/<flag>; the service answers
// {"enabled": true, "percent": 25}.
json_t *get(pgm_call *call, json_t *args)
{
	std::string flag = arg(args, "flag", nullptr);
	if (flag.empty() || flag.find_first_of("/?#") != std::string::npos)
		throw std::invalid_argument("argument 'flag' must be a flag name, not '" + flag + "'");
	std::string url = arg(args, "url", "http://127.0.0.1:8080") + "/flags/" + flag;
	static const char *const headers[] = { "Accept: application/json", nullptr };
	pgm_http_request req = {};
	req.method = "GET";
	req.url = url.c_str();
	req.headers = headers;
	pgm_http_response resp = {};
	if (pgm_http_send(call, &req, &resp) != 0) {
		pgm_http_response_free(&resp);
		return nullptr; // http.connect, http.timeout, ... recorded by the host
	}
	long status = resp.status;
	json_t *body = json_loadb(resp.body, resp.body_len, 0, nullptr);
	pgm_http_response_free(&resp);
	if (status != 200 || !json_is_object(body)) {
		json_decref(body);
		return pgm_fail(call, status >= 500 ? "flags.unavailable" : "flags.http", status >= 500,
				"%s: the flag service answered %ld%s", url.c_str(), status,
				status == 200 ? " without a JSON object" : "");
	}
	json_t *enabled = json_object_get(body, "enabled");
	json_t *percent = json_object_get(body, "percent");
	if (!json_is_boolean(enabled) || (percent && !json_is_integer(percent))) {
		json_decref(body);
		throw std::runtime_error(url + ": expected {\"enabled\": bool, \"percent\": int}");
	}
	json_t *out = json_pack("{s:s, s:O, s:I}", "flag", flag.c_str(), "enabled", enabled,
				"percent", (json_int_t)(percent ? json_integer_value(percent) : 100));
	json_decref(body);
	return out;
}

} // namespace

extern "C" {

static json_t *flags_get(pgm_call *call, json_t *args)
{
	return guarded(call, args, get);
}

static const pgm_param get_params[] = {
	// name, type, required, secret, summary, dflt, min, max, allowed
	{ "flag", "string", 1, 0, "the flag's name", nullptr, nullptr, nullptr, nullptr },
	{ "url", "string", 0, 0, "the flag service", "\"http://127.0.0.1:8080\"", nullptr, nullptr,
	  nullptr },
	{ nullptr, nullptr, 0, 0, nullptr, nullptr, nullptr, nullptr, nullptr },
};

static const pgm_function functions[] = {
	{ "get", flags_get, PGM_FN_IDEMPOTENT | PGM_FN_READ_ONLY, "a feature flag's state",
	  get_params },
	{ nullptr, nullptr, 0, nullptr, nullptr },
};

// abi, name, version, summary, init, fini, functions, min_pgmove, configure, config
PGMOVE_PLUGIN(flags) = {
	PGMOVE_PLUGIN_ABI, "flags", "1.0.0", "feature flags over HTTP (an example in C++)",
	nullptr,           nullptr, functions, 100, nullptr, nullptr,
};

} // extern "C"
