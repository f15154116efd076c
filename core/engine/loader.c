/*
 * core/engine/loader.c - plugin discovery and loading through libltdl.
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ltdl.h>
#include <openssl/evp.h>

#include "host.h"
#include "loader.h"

#ifndef PGMOVE_PLUGIN_DIR
#define PGMOVE_PLUGIN_DIR "/usr/local/lib/pgmove"
#endif

typedef struct loaded {
	char *name;
	char *path;
	lt_dlhandle handle;
	const pgm_plugin *plugin;
	char sha256[65]; /* of the shared object that was loaded */
	struct loaded *next;
} loaded;

static loaded *plugins;
static int ltdl_ready;

/* search_dirs - the directories to search, NULL-terminated; caller frees
 * the array and its strings with free_dirs. */
static char **search_dirs(void)
{
	const char *env = getenv("PGMOVE_PLUGIN_PATH");
	size_t n = 2;
	for (const char *p = env; p && *p; p++)
		if (*p == ':')
			n++;
	char **dirs = calloc(n + 1, sizeof(*dirs));
	size_t i = 0;
	if (!dirs)
		return NULL;
	if (env && *env) {
		char *copy = strdup(env), *save = NULL;
		for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
			if (*tok)
				dirs[i++] = strdup(tok);
		free(copy);
	}
	dirs[i++] = strdup(PGMOVE_PLUGIN_DIR);
	dirs[i] = NULL;
	return dirs;
}

static void free_dirs(char **dirs)
{
	for (size_t i = 0; dirs && dirs[i]; i++)
		free(dirs[i]);
	free(dirs);
}

static int ensure_ltdl(char *err, size_t errlen)
{
	if (ltdl_ready)
		return 0;
	if (lt_dlinit() != 0) {
		snprintf(err, errlen, "cannot initialise libltdl: %s", lt_dlerror());
		return -1;
	}
	ltdl_ready = 1;
	return 0;
}

static int file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* candidate - the first existing file among base.la, base.so for base;
 * writes it into out. 0 when found. */
static int candidate(const char *base, char *out, size_t outlen)
{
	static const char *const exts[] = { ".la", ".so", NULL };
	for (int i = 0; exts[i]; i++) {
		if ((size_t)snprintf(out, outlen, "%s%s", base, exts[i]) >= outlen)
			return -1;
		if (file_exists(out))
			return 0;
	}
	return -1;
}

/* la_value - the value of key='...' (or key=... unquoted) in the libtool
 * archive text la, into out. 0 when found. */
static int la_value(const char *la, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);
	for (const char *line = la; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			const char *v = line + klen + 1, *end;
			if (*v == '\'')
				end = strchr(++v, '\'');
			else
				end = v + strcspn(v, "\n");
			if (!end)
				return -1;
			snprintf(out, outlen, "%.*s", (int)(end - v), v);
			return 0;
		}
	}
	return -1;
}

/* shared_object - the shared object that path (a .so, or a libtool .la
 * naming one, where libltdl looks for it) stands for, into out. 0, or -1
 * with err set. */
static int shared_object(const char *name, const char *path, char *out, size_t outlen, char *err,
			 size_t errlen)
{
	size_t len = strlen(path);
	if (len < 3 || strcmp(path + len - 3, ".la") != 0) {
		snprintf(out, outlen, "%s", path);
		return 0;
	}
	char la[8192], dlname[512], installed[16], libdir[2048], dir[4096];
	FILE *f = fopen(path, "re");
	size_t n = f ? fread(la, 1, sizeof(la) - 1, f) : 0;
	if (f)
		fclose(f);
	la[n] = '\0';
	if (la_value(la, "dlname", dlname, sizeof(dlname)) != 0 || !*dlname) {
		snprintf(err, errlen, "plugin %s: %s is not a libtool module (no dlname)", name, path);
		return -1;
	}
	const char *slash = strrchr(path, '/');
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	/* where libltdl looks: an uninstalled module in dir/.libs, then dir, then libdir */
	char cand[3][4096];
	int ncand = 0, uninstalled = la_value(la, "installed", installed, sizeof(installed)) == 0 &&
					 strcmp(installed, "no") == 0;
	if (uninstalled)
		snprintf(cand[ncand++], sizeof(cand[0]), "%.2000s/.libs/%.500s", dir, dlname);
	snprintf(cand[ncand++], sizeof(cand[0]), "%.2000s/%.500s", dir, dlname);
	if (la_value(la, "libdir", libdir, sizeof(libdir)) == 0)
		snprintf(cand[ncand++], sizeof(cand[0]), "%.2000s/%.500s", libdir, dlname);
	int pick = 0;
	for (int i = 0; i < ncand; i++)
		if (file_exists(cand[i])) {
			pick = i;
			break;
		}
	if ((size_t)snprintf(out, outlen, "%s", cand[pick]) >= outlen) {
		snprintf(err, errlen, "plugin %s: %s: the path of its shared object is too long", name,
			 path);
		return -1;
	}
	return 0;
}

/* version_text - "M.m.p" for a PGMOVE_VERSION_NUM. */
static const char *version_text(unsigned long v, char *buf, size_t len)
{
	snprintf(buf, len, "%lu.%lu.%lu", v / 10000, v / 100 % 100, v % 100);
	return buf;
}

/* descriptor - the plugin's descriptor symbol in a dlopen handle: the
 * name_LTX_ form first, as libltdl looks it up. */
static const pgm_plugin *descriptor(void *h, const char *name)
{
	char sym[256];
	snprintf(sym, sizeof(sym), "%s_LTX_" PGMOVE_PLUGIN_SYMBOL, name);
	const pgm_plugin *p = dlsym(h, sym);
	return p ? p : dlsym(h, PGMOVE_PLUGIN_SYMBOL);
}

/* resolve_now - loads the shared object with every symbol bound
 * (RTLD_NOW), so an undefined symbol fails here with the dynamic linker's
 * own message, never at a plugin's first call. When that fails and the
 * descriptor can still be read (RTLD_LAZY), a plugin that asks for a newer
 * pgmove says so. Returns the handle (closed by the caller once libltdl
 * holds the module) or NULL with err set. */
static void *resolve_now(const char *name, const char *path, const char *so, char *err,
			 size_t errlen)
{
	void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	if (h)
		return h;
	char why[1024], a[32], b[32];
	snprintf(why, sizeof(why), "%s", dlerror());
	void *lazy = dlopen(so, RTLD_LAZY | RTLD_LOCAL);
	const pgm_plugin *p = lazy ? descriptor(lazy, name) : NULL;
	if (p && p->abi == PGMOVE_PLUGIN_ABI && p->min_pgmove > PGMOVE_VERSION_NUM)
		snprintf(err, errlen, "plugin %s: %s needs pgmove %s or later (this is %s): %s", name,
			 path, version_text(p->min_pgmove, a, sizeof(a)),
			 version_text(PGMOVE_VERSION_NUM, b, sizeof(b)), why);
	else
		snprintf(err, errlen, "plugin %s: cannot load %s: %s", name, path, why);
	if (lazy)
		dlclose(lazy);
	return NULL;
}

/* file_sha256 - the SHA-256 of the file at path as hex into out (65
 * bytes); "" when it cannot be read. */
static void file_sha256(const char *path, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE], buf[65536];
	unsigned mdlen = 0;
	size_t n;
	int ok = 0;
	FILE *f = fopen(path, "rb");
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	out[0] = '\0';
	if (f && ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
		ok = 1;
		while (ok && (n = fread(buf, 1, sizeof(buf), f)) > 0)
			ok = EVP_DigestUpdate(ctx, buf, n) == 1;
		ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
	}
	if (ok)
		for (unsigned i = 0; i < mdlen && i < 32; i++)
			snprintf(out + 2 * i, 3, "%02x", md[i]);
	EVP_MD_CTX_free(ctx);
	if (f)
		fclose(f);
}

/* open_plugin - loads the file at path as plugin name: every symbol
 * resolved, the descriptor (ABI, name, minimum pgmove version, function
 * table) checked, then init run. NULL with err set. */
static loaded *open_plugin(const char *name, const char *path, char *err, size_t errlen)
{
	char so[4096], a[32], b[32];
	if (shared_object(name, path, so, sizeof(so), err, errlen) != 0)
		return NULL;
	void *now = resolve_now(name, path, so, err, errlen);
	if (!now)
		return NULL;
	lt_dlhandle h = lt_dlopen(path);
	dlclose(now); /* libltdl's handle keeps the object loaded */
	if (!h) {
		snprintf(err, errlen, "plugin %s: cannot load %s: %s", name, path, lt_dlerror());
		return NULL;
	}
	const pgm_plugin *p = lt_dlsym(h, PGMOVE_PLUGIN_SYMBOL);
	if (!p) {
		snprintf(err, errlen,
			 "plugin %s: %s does not export %s_LTX_" PGMOVE_PLUGIN_SYMBOL
			 " (is it a pgmove plugin built with PGMOVE_PLUGIN(%s)?)",
			 name, path, name, name);
		lt_dlclose(h);
		return NULL;
	}
	/* The ABI number is the first member: read it before anything else. */
	if (p->abi != PGMOVE_PLUGIN_ABI) {
		snprintf(err, errlen,
			 "plugin %s: %s was built for plugin ABI %d, this pgmove has ABI %d; "
			 "rebuild the plugin against this pgmove's plugin.h",
			 name, path, p->abi, PGMOVE_PLUGIN_ABI);
		lt_dlclose(h);
		return NULL;
	}
	if (p->min_pgmove > PGMOVE_VERSION_NUM) {
		snprintf(err, errlen, "plugin %s: %s needs pgmove %s or later (this is %s)", name,
			 path, version_text(p->min_pgmove, a, sizeof(a)),
			 version_text(PGMOVE_VERSION_NUM, b, sizeof(b)));
		lt_dlclose(h);
		return NULL;
	}
	if (!p->name || strcmp(p->name, name) != 0 || !p->functions) {
		snprintf(err, errlen, "plugin %s: %s describes itself as '%s'%s", name, path,
			 p->name ? p->name : "(null)", p->functions ? "" : " and has no function table");
		lt_dlclose(h);
		return NULL;
	}
	if (pgm_ptable_check_plugin(name, path, p, err, errlen) != 0) {
		lt_dlclose(h);
		return NULL;
	}
	if (p->init && p->init() != 0) {
		snprintf(err, errlen, "plugin %s: %s: init failed (see the messages above)", name,
			 path);
		lt_dlclose(h);
		return NULL;
	}
	loaded *l = calloc(1, sizeof(*l));
	l->name = strdup(name);
	l->path = strdup(path);
	l->handle = h;
	l->plugin = p;
	file_sha256(so, l->sha256);
	return l;
}

const pgm_plugin *loader_get(const char *name, char *err, size_t errlen)
{
	for (loaded *l = plugins; l; l = l->next)
		if (strcmp(l->name, name) == 0)
			return l->plugin;
	if (!pgm_ptable_name_ok(name)) {
		snprintf(err, errlen,
			 "plugin '%s': a plugin name is lower-case letters, digits and '_'",
			 name ? name : "");
		return NULL;
	}
	if (ensure_ltdl(err, errlen) != 0)
		return NULL;

	char **dirs = search_dirs();
	char tried[2048] = "";
	size_t used = 0;
	char path[4096], base[4096];
	loaded *l = NULL;
	int found = 0;
	for (size_t i = 0; dirs && dirs[i] && !found; i++) {
		for (int nested = 0; nested < 2 && !found; nested++) {
			if (nested)
				snprintf(base, sizeof(base), "%s/%s/%s", dirs[i], name, name);
			else
				snprintf(base, sizeof(base), "%s/%s", dirs[i], name);
			if (candidate(base, path, sizeof(path)) == 0) {
				found = 1;
				l = open_plugin(name, path, err, errlen);
			} else if (used < sizeof(tried)) {
				used += (size_t)snprintf(tried + used, sizeof(tried) - used, "%s%s.{la,so}",
							 used ? ", " : "", base);
			}
		}
	}
	free_dirs(dirs);
	if (!found) {
		snprintf(err, errlen,
			 "plugin %s not found; tried %s (set PGMOVE_PLUGIN_PATH to add directories)",
			 name, tried);
		return NULL;
	}
	if (!l)
		return NULL;
	l->next = plugins;
	plugins = l;
	pgm_debug("loaded plugin %s %s from %s", name, l->plugin->version ? l->plugin->version : "",
		  l->path);
	return l->plugin;
}

/* The crash guard: while a plugin function runs, SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE, SIGABRT and SIGSYS go to crash_handler, on its own stack (a stack
 * overflow must not take the handler down). */
static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS };
#define NCRASH (sizeof(crash_signals) / sizeof(crash_signals[0]))
static volatile sig_atomic_t crash_armed;
static loader_crash_fn volatile crash_fn;
static void *volatile crash_user;
static char crash_name[256];
static char crash_stack[65536];

static const char *signal_name(int signo)
{
	switch (signo) {
	case SIGSEGV: return "SIGSEGV";
	case SIGBUS: return "SIGBUS";
	case SIGILL: return "SIGILL";
	case SIGFPE: return "SIGFPE";
	case SIGABRT: return "SIGABRT";
	case SIGSYS: return "SIGSYS";
	default: return "a signal";
	}
}

const char *loader_signal_name(int signo)
{
	return signal_name(signo);
}

/* crash_handler - async-signal-safe: says which function crashed on
 * stderr, lets the caller journal it (crash_fn), then dies of the same
 * signal (SA_RESETHAND restored the default action). */
static void crash_handler(int signo)
{
	if (crash_armed) {
		static const char a[] = "pgmove: plugin function ", b[] = " crashed with ",
				  c[] = "; stopping\n";
		const char *sig = signal_name(signo);
		ssize_t rc = write(2, a, sizeof(a) - 1);
		rc = write(2, crash_name, strlen(crash_name));
		rc = write(2, b, sizeof(b) - 1);
		rc = write(2, sig, strlen(sig));
		rc = write(2, c, sizeof(c) - 1);
		(void)rc;
		crash_armed = 0;
		if (crash_fn)
			crash_fn(crash_user, signo);
	}
	signal(signo, SIG_DFL);
	raise(signo);
}

int loader_crash_pause(void)
{
	int was = crash_armed;
	crash_armed = 0;
	return was;
}

void loader_crash_resume(int was)
{
	crash_armed = was;
}

json_t *loader_invoke(const pgm_plugin *p, const pgm_function *f, pgm_call *call, json_t *args,
		      loader_crash_fn on_crash, void *user)
{
	static int stack_ready;
	struct sigaction sa, old[NCRASH];
	json_t *res;

	if (!stack_ready) {
		stack_t ss;
		memset(&ss, 0, sizeof(ss));
		ss.ss_sp = crash_stack;
		ss.ss_size = sizeof(crash_stack);
		if (sigaltstack(&ss, NULL) == 0)
			stack_ready = 1;
	}
	snprintf(crash_name, sizeof(crash_name), "%s.%s", p->name, f->name);
	crash_fn = on_crash;
	crash_user = user;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = crash_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
	for (size_t i = 0; i < NCRASH; i++)
		sigaction(crash_signals[i], &sa, &old[i]);
	crash_armed = 1;
	res = f->fn(call, args);
	crash_armed = 0;
	for (size_t i = 0; i < NCRASH; i++)
		sigaction(crash_signals[i], &old[i], NULL);
	crash_fn = NULL;
	crash_user = NULL;
	return res;
}

const pgm_function *loader_function(const pgm_plugin *p, const char *fn)
{
	for (const pgm_function *f = p->functions; f && f->name; f++)
		if (strcmp(f->name, fn) == 0)
			return f;
	return NULL;
}

const char *loader_flags_string(unsigned flags, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s", (flags & PGM_FN_IDEMPOTENT) ? "idempotent," : "",
		 (flags & PGM_FN_READ_ONLY) ? "read-only," : "",
		 (flags & PGM_FN_IRREVERSIBLE) ? "irreversible," : "", "");
	size_t n = strlen(buf);
	if (n && buf[n - 1] == ',')
		buf[n - 1] = '\0';
	if (!*buf)
		snprintf(buf, len, "-");
	return buf;
}

int loader_check_args(const pgm_plugin *p, const pgm_function *fn, json_t *args, char *err,
		      size_t errlen)
{
	char what[256];
	snprintf(what, sizeof(what), "%s.%s", p->name, fn->name);
	return pgm_ptable_check(what, "argument", fn->params, args,
				PGM_PTABLE_DEFAULTS | PGM_PTABLE_REQUIRED, err, errlen);
}

int loader_check_config(const pgm_plugin *p, json_t *config, int complete, char *err,
			size_t errlen)
{
	char what[256];
	if (!p->config)
		return 0;
	snprintf(what, sizeof(what), "plugin %s { ... }", p->name);
	return pgm_ptable_check(what, "key", p->config, config,
				complete ? PGM_PTABLE_DEFAULTS | PGM_PTABLE_REQUIRED : 0, err,
				errlen);
}

json_t *loader_describe_function(const pgm_function *f)
{
	json_t *params = pgm_ptable_describe(f->params);
	json_t *flag_list = json_array();
	if (f->flags & PGM_FN_IDEMPOTENT)
		json_array_append_new(flag_list, json_string("idempotent"));
	if (f->flags & PGM_FN_READ_ONLY)
		json_array_append_new(flag_list, json_string("read-only"));
	if (f->flags & PGM_FN_IRREVERSIBLE)
		json_array_append_new(flag_list, json_string("irreversible"));
	return json_pack("{s:s, s:o, s:s, s:o}", "name", f->name, "flags", flag_list, "summary",
			 f->summary ? f->summary : "", "params", params);
}

static int cmp_json_name(const void *a, const void *b)
{
	const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
	return strcmp(json_string_value(json_object_get(x, "name")),
		      json_string_value(json_object_get(y, "name")));
}

/* add_found - loads plugin name (found as file path) into list unless a
 * plugin of that name is already listed (the first on the path wins, as for
 * loader_get). */
static void add_found(json_t *list, const char *name)
{
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e)
	if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
		return;
	char err[2048];
	const pgm_plugin *p = loader_get(name, err, sizeof(err));
	if (!p) {
		json_array_append_new(list, json_pack("{s:s, s:s}", "name", name, "error", err));
		return;
	}
	const char *path = "";
	for (loaded *l = plugins; l; l = l->next)
		if (l->plugin == p)
			path = l->path;
	json_t *fns = json_array();
	for (const pgm_function *f = p->functions; f->name; f++)
		json_array_append_new(fns, loader_describe_function(f));
	json_t *entry = json_pack("{s:s, s:s, s:s, s:s, s:o}", "name", p->name, "version",
			      p->version ? p->version : "", "summary", p->summary ? p->summary : "",
			      "path", path, "functions", fns);
	if (p->config)
		json_object_set_new(entry, "config", pgm_ptable_describe(p->config));
	json_array_append_new(list, entry);
}

/* scan_dir - adds the plugins found in dir (files NAME.la / NAME.so, and
 * NAME/NAME.la for a build tree) to list. */
static void scan_dir(json_t *list, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		char name[256], path[4096];
		const char *dot = strrchr(de->d_name, '.');
		if (de->d_name[0] == '.')
			continue;
		if (dot && (strcmp(dot, ".la") == 0 || strcmp(dot, ".so") == 0)) {
			snprintf(name, sizeof(name), "%.*s", (int)(dot - de->d_name), de->d_name);
			if (pgm_ptable_name_ok(name))
				add_found(list, name);
			continue;
		}
		char base[4096];
		snprintf(base, sizeof(base), "%s/%s/%s", dir, de->d_name, de->d_name);
		if (pgm_ptable_name_ok(de->d_name) && candidate(base, path, sizeof(path)) == 0)
			add_found(list, de->d_name);
	}
	closedir(d);
}

json_t *loader_list(void)
{
	json_t *list = json_array();
	char **dirs = search_dirs();
	for (size_t i = 0; dirs && dirs[i]; i++)
		scan_dir(list, dirs[i]);
	free_dirs(dirs);
	size_t n = json_array_size(list);
	json_t **items = calloc(n ? n : 1, sizeof(*items));
	for (size_t i = 0; i < n; i++)
		items[i] = json_incref(json_array_get(list, i));
	qsort(items, n, sizeof(*items), cmp_json_name);
	json_t *sorted = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(sorted, items[i]);
	free(items);
	json_decref(list);
	return sorted;
}

/* cmp_identity - orders identities by name. */
static int cmp_identity(const void *a, const void *b)
{
	return cmp_json_name(a, b);
}

json_t *loader_identities(void)
{
	size_t n = 0, i = 0;
	for (loaded *l = plugins; l; l = l->next)
		n++;
	json_t **items = calloc(n ? n : 1, sizeof(*items));
	for (loaded *l = plugins; l && items; l = l->next)
		items[i++] = json_pack("{s:s, s:s, s:s, s:s}", "name", l->name, "version",
				       l->plugin->version ? l->plugin->version : "", "path", l->path,
				       "sha256", l->sha256);
	json_t *out = json_array();
	if (items) {
		qsort(items, i, sizeof(*items), cmp_identity);
		for (size_t k = 0; k < i; k++)
			json_array_append_new(out, items[k]);
	}
	free(items);
	return out;
}

void loader_shutdown(void)
{
	while (plugins) {
		loaded *l = plugins;
		plugins = l->next;
		if (l->plugin->fini)
			l->plugin->fini();
		lt_dlclose(l->handle);
		free(l->name);
		free(l->path);
		free(l);
	}
	if (ltdl_ready) {
		lt_dlexit();
		ltdl_ready = 0;
	}
}
