/*
 * core/aws/aws_creds.c - where AWS credentials and the region come from, in the
 * order AWS's own tools look: the environment, the shared credentials and
 * config files (AWS_PROFILE or default), the container credentials endpoint
 * (ECS/EKS), the EC2 instance metadata service (IMDSv2). Temporary
 * credentials of the last two are cached until shortly before they expire.
 */
#define _GNU_SOURCE
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_internal.h"

/* Refresh temporary credentials this long before they expire (the SDKs
 * use 5 to 15 minutes). */
#define REFRESH_MARGIN_S 300
#define IMDS_DEFAULT "http://169.254.169.254"
#define CONTAINER_HOST "http://169.254.170.2"

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static aws_creds cache;

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int env_true(const char *name)
{
	const char *v = env(name);

	return v && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

void aws_creds_clear(aws_creds *c)
{
	if (c->secret_key)
		memset(c->secret_key, 0, strlen(c->secret_key));
	if (c->token)
		memset(c->token, 0, strlen(c->token));
	free(c->access_key);
	free(c->secret_key);
	free(c->token);
	memset(c, 0, sizeof(*c));
}

static void creds_copy(aws_creds *dst, const aws_creds *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->access_key = xstrdup(src->access_key);
	dst->secret_key = xstrdup(src->secret_key);
	dst->token = xstrdup(src->token);
	dst->expires = src->expires;
	dst->refreshable = src->refreshable;
	snprintf(dst->source, sizeof(dst->source), "%s", src->source);
}

void aws_creds_invalidate(void)
{
	pthread_mutex_lock(&cache_lock);
	aws_creds_clear(&cache);
	pthread_mutex_unlock(&cache_lock);
}

/* ---- shared files ---------------------------------------------------- */

static char *home_path(const char *rel)
{
	const char *home = env("HOME");
	char *p = NULL;
	size_t n;

	if (!home)
		return NULL;
	n = strlen(home) + strlen(rel) + 2;
	p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", home, rel);
	return p;
}

static char *expand(const char *path)
{
	if (path[0] == '~' && path[1] == '/')
		return home_path(path + 2);
	return strdup(path);
}

char *aws_config_path(void)
{
	const char *p = env("AWS_CONFIG_FILE");

	return p ? expand(p) : home_path(".aws/config");
}

char *aws_credentials_path(void)
{
	const char *p = env("AWS_SHARED_CREDENTIALS_FILE");

	return p ? expand(p) : home_path(".aws/credentials");
}

const char *aws_profile_name(void)
{
	const char *p = env("AWS_PROFILE");

	if (!p)
		p = env("AWS_DEFAULT_PROFILE");
	return p ? p : "default";
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* ini_get - the value of key in section of the INI file at path. Returns a
 * new string, or NULL. *found_section is set when the section exists. */
static char *ini_get(const char *path, const char *section, const char *key, int *found_section)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	char line[4096];
	int in = 0;
	char *val = NULL;

	if (!f)
		return NULL;
	while (!val && fgets(line, sizeof(line), f)) {
		char *l, *eq;

		if (line[0] == ' ' || line[0] == '\t') {
			continue; /* a nested sub-section's line ("s3 =\n  x = y") */
		}
		l = trim(line);
		if (*l == '#' || *l == ';' || *l == '\0')
			continue;
		if (*l == '[') {
			char *end = strchr(l, ']');

			if (end)
				*end = '\0';
			in = strcmp(trim(l + 1), section) == 0;
			if (in && found_section)
				*found_section = 1;
			continue;
		}
		eq = strchr(l, '=');
		if (!in || !eq)
			continue;
		*eq = '\0';
		if (strcmp(trim(l), key) == 0)
			val = strdup(trim(eq + 1));
	}
	fclose(f);
	return val;
}

/* profile_lookup - key of the active profile; *in_creds / *in_config tell
 * whether the profile exists in either file. */
static char *profile_lookup(const char *key, const char **where, int *exists)
{
	const char *name = aws_profile_name();
	char *cpath = aws_credentials_path();
	char *fpath = aws_config_path();
	char section[512];
	char *v;
	int found = 0;

	v = ini_get(cpath, name, key, &found);
	if (v && where)
		*where = "shared credentials file";
	if (!v) {
		if (strcmp(name, "default") == 0) {
			v = ini_get(fpath, "default", key, &found);
			if (!v)
				v = ini_get(fpath, "profile default", key, &found);
		} else {
			snprintf(section, sizeof(section), "profile %s", name);
			v = ini_get(fpath, section, key, &found);
		}
		if (v && where)
			*where = "shared config file";
	}
	if (exists)
		*exists = found;
	free(cpath);
	free(fpath);
	return v;
}

char *aws_profile_get(const char *key, const char **where)
{
	return profile_lookup(key, where, NULL);
}

/* ---- the region ------------------------------------------------------- */

static int region_shape(const char *r, const char *prefix)
{
	size_t pl = strlen(prefix);
	const char *p;
	int dashes = 0;

	if (strncmp(r, prefix, pl) != 0 || r[pl] != '-')
		return 0;
	/* prefix-word-digits, words of lower-case letters */
	p = r + pl + 1;
	if (!islower((unsigned char)*p))
		return 0;
	while (*p && (islower((unsigned char)*p) || *p == '-')) {
		if (*p == '-')
			dashes++;
		p++;
	}
	if (dashes < 1 || p[-1] != '-' || !isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p))
		p++;
	return *p == '\0';
}

const char *aws_region_dns_suffix(const char *region)
{
	static const char *const aws_prefixes[] = {"us", "eu", "ap", "sa", "ca",
						   "me", "af", "il", "mx", NULL};

	if (!region)
		return NULL;
	if (region_shape(region, "cn"))
		return "amazonaws.com.cn";
	if (region_shape(region, "us-gov"))
		return "amazonaws.com";
	if (region_shape(region, "us-iso"))
		return "c2s.ic.gov";
	if (region_shape(region, "us-isob"))
		return "sc2s.sgov.gov";
	for (int i = 0; aws_prefixes[i]; i++)
		if (region_shape(region, aws_prefixes[i]))
			return "amazonaws.com";
	return NULL;
}

char *aws_region_resolve(pgm_call *call, const char *param)
{
	const char *v = NULL, *from = NULL, *where = NULL;
	char *prof = NULL, *out;

	if (param && *param) {
		v = param;
		from = "the region param";
	} else if ((v = env("AWS_REGION"))) {
		from = "AWS_REGION";
	} else if ((v = env("AWS_DEFAULT_REGION"))) {
		from = "AWS_DEFAULT_REGION";
	} else if ((prof = profile_lookup("region", &where, NULL)) && *prof) {
		v = prof;
		from = where;
	}
	if (!v) {
		char *cpath = aws_config_path();

		free(prof);
		pgm_fail(call, "aws.region_missing", 0,
			 "aws: no region: tried the region param, AWS_REGION, AWS_DEFAULT_REGION, "
			 "and \"region\" of profile %s in %s; set one of them",
			 aws_profile_name(), cpath ? cpath : "~/.aws/config");
		free(cpath);
		return NULL;
	}
	if (!aws_region_dns_suffix(v)) {
		pgm_fail(call, "aws.region_unknown", 0,
			 "aws: region \"%s\" (from %s) is not an AWS region name "
			 "(like us-east-1, eu-west-2, cn-north-1, us-gov-west-1)",
			 v, from);
		free(prof);
		return NULL;
	}
	out = strdup(v);
	free(prof);
	return out;
}

/* ---- temporary credentials from a JSON document ---------------------- */

static long long parse_iso8601(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
			 &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm);
}

/* creds_from_json - {"AccessKeyId","SecretAccessKey","Token","Expiration"}.
 * 0, or -1 with why in err. */
static int creds_from_json(const char *body, size_t len, aws_creds *c, char *err, size_t errlen)
{
	json_t *v = json_loadb(body ? body : "", len, 0, NULL);
	const char *ak, *sk, *tok, *code;

	if (!json_is_object(v)) {
		snprintf(err, errlen, "answer is not a JSON object");
		json_decref(v);
		return -1;
	}
	code = json_string_value(json_object_get(v, "Code"));
	ak = json_string_value(json_object_get(v, "AccessKeyId"));
	sk = json_string_value(json_object_get(v, "SecretAccessKey"));
	tok = json_string_value(json_object_get(v, "Token"));
	if (code && strcmp(code, "Success") != 0) {
		snprintf(err, errlen, "answer has Code \"%s\"", code);
		json_decref(v);
		return -1;
	}
	if (!ak || !sk) {
		snprintf(err, errlen, "answer lacks AccessKeyId or SecretAccessKey");
		json_decref(v);
		return -1;
	}
	c->access_key = strdup(ak);
	c->secret_key = strdup(sk);
	c->token = xstrdup(tok);
	c->expires = parse_iso8601(json_string_value(json_object_get(v, "Expiration")));
	c->refreshable = 1;
	json_decref(v);
	return 0;
}

/* fetch - one GET/PUT to a credentials endpoint; returns the HTTP status
 * (body in resp) or 0 after a transport failure (why in err). The call's
 * error is cleared: a failed probe is not the call's failure. */
static long fetch(pgm_call *call, const char *method, const char *url, const char *const *headers,
		  long timeout_ms, pgm_http_response *resp, char *err, size_t errlen)
{
	pgm_http_request req = {.method = method,
				.url = url,
				.headers = headers,
				.body = NULL,
				.body_len = 0,
				.timeout_ms = timeout_ms};

	memset(resp, 0, sizeof(*resp));
	if (pgm_http_send(call, &req, resp) != 0) {
		snprintf(err, errlen, "%s",
			 pgm_error_message(call) ? pgm_error_message(call) : "no answer");
		if (!pgm_cancelled(call))
			pgm_clear_error(call);
		return 0;
	}
	return resp->status;
}

static int loopback_or_https(const char *url)
{
	static const char *const ok[] = {"https://",
					 "http://127.",
					 "http://localhost:",
					 "http://localhost/",
					 "http://[::1]",
					 "http://169.254.170.2",
					 "http://169.254.170.23",
					 "http://[fd00:ec2::23]",
					 NULL};

	for (int i = 0; ok[i]; i++)
		if (strncmp(url, ok[i], strlen(ok[i])) == 0)
			return 1;
	return 0;
}

/* from_container - ECS/EKS container credentials. 1 found, 0 not
 * configured, -1 configured but failed (err says why). */
static int from_container(pgm_call *call, aws_creds *c, char *err, size_t errlen)
{
	const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *tok = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	const char *tokfile = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	char url[2048], auth[4096], why[512];
	char *filetok = NULL;
	const char *headers[2] = {NULL, NULL};
	pgm_http_response resp;
	long status;
	int rc = -1;

	if (rel)
		snprintf(url, sizeof(url), "%s%s", CONTAINER_HOST, rel);
	else if (full)
		snprintf(url, sizeof(url), "%s", full);
	else
		return 0;
	if (!rel && !loopback_or_https(url)) {
		snprintf(err, errlen,
			 "container endpoint %.400s: plain http is allowed only to a loopback or "
			 "the "
			 "ECS/EKS link-local address",
			 url);
		return -1;
	}
	if (tokfile) {
		FILE *f = fopen(tokfile, "r");
		char buf[4096];

		if (f && fgets(buf, sizeof(buf), f))
			filetok = strdup(trim(buf));
		if (f)
			fclose(f);
		if (!filetok) {
			snprintf(err, errlen, "container endpoint: cannot read %.400s", tokfile);
			return -1;
		}
		tok = filetok;
	}
	if (tok) {
		snprintf(auth, sizeof(auth), "Authorization: %s", tok);
		headers[0] = auth;
	}
	status = fetch(call, "GET", url, tok ? headers : NULL, 2000, &resp, why, sizeof(why));
	if (status == 200) {
		if (creds_from_json(resp.body, resp.body_len, c, why, sizeof(why)) == 0) {
			snprintf(c->source, sizeof(c->source), "container endpoint");
			rc = 1;
		} else {
			snprintf(err, errlen, "container endpoint %.400s: %.400s", url, why);
		}
	} else if (status) {
		snprintf(err, errlen, "container endpoint %.400s: HTTP %ld", url, status);
	} else {
		snprintf(err, errlen, "container endpoint %.400s: %.400s", url, why);
	}
	pgm_http_response_free(&resp);
	if (filetok) {
		memset(filetok, 0, strlen(filetok));
		free(filetok);
	}
	memset(auth, 0, sizeof(auth));
	return rc;
}

/* from_imds - EC2 instance metadata, IMDSv2: PUT a session token, read the
 * role name, read the role's credentials. 1 found, -1 not (err says why). */
static int from_imds(pgm_call *call, aws_creds *c, char *err, size_t errlen)
{
	const char *base = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	char url[2048], tokhdr[1024], why[512], role[256];
	const char *put_headers[] = {"X-aws-ec2-metadata-token-ttl-seconds: 21600", NULL};
	const char *get_headers[] = {tokhdr, NULL};
	pgm_http_response resp;
	long status;
	size_t bl;
	int rc = -1;

	if (!base)
		base = IMDS_DEFAULT;
	bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	snprintf(url, sizeof(url), "%.*s/latest/api/token", (int)bl, base);
	status = fetch(call, "PUT", url, put_headers, 1000, &resp, why, sizeof(why));
	if (status != 200 || !resp.body || !*resp.body) {
		if (status)
			snprintf(err, errlen, "instance metadata %.*s: token: HTTP %ld", (int)bl,
				 base, status);
		else
			snprintf(err, errlen, "instance metadata %.*s: %s", (int)bl, base, why);
		pgm_http_response_free(&resp);
		return -1;
	}
	snprintf(tokhdr, sizeof(tokhdr), "X-aws-ec2-metadata-token: %s", trim(resp.body));
	pgm_http_response_free(&resp);

	snprintf(url, sizeof(url), "%.*s/latest/meta-data/iam/security-credentials/", (int)bl,
		 base);
	status = fetch(call, "GET", url, get_headers, 1000, &resp, why, sizeof(why));
	if (status != 200 || !resp.body || !*trim(resp.body)) {
		snprintf(err, errlen, "instance metadata %.*s: no IAM role attached (%s%ld)",
			 (int)bl, base, status ? "HTTP " : "", status);
		pgm_http_response_free(&resp);
		memset(tokhdr, 0, sizeof(tokhdr));
		return -1;
	}
	snprintf(role, sizeof(role), "%s", trim(resp.body));
	role[strcspn(role, "\n")] = '\0';
	pgm_http_response_free(&resp);

	snprintf(url, sizeof(url), "%.*s/latest/meta-data/iam/security-credentials/%s", (int)bl,
		 base, role);
	status = fetch(call, "GET", url, get_headers, 1000, &resp, why, sizeof(why));
	if (status == 200 && creds_from_json(resp.body, resp.body_len, c, why, sizeof(why)) == 0) {
		snprintf(c->source, sizeof(c->source), "instance metadata (role %.20s)", role);
		rc = 1;
	} else if (status == 200) {
		snprintf(err, errlen, "instance metadata: role %s: %s", role, why);
	} else {
		snprintf(err, errlen, "instance metadata: role %s: HTTP %ld", role, status);
	}
	pgm_http_response_free(&resp);
	memset(tokhdr, 0, sizeof(tokhdr));
	return rc;
}

static void register_secrets(const aws_creds *c)
{
	pgm_secret_add(c->secret_key);
	if (c->token)
		pgm_secret_add(c->token);
}

int aws_creds_get(pgm_call *call, aws_creds *out)
{
	const char *ak, *sk, *where = NULL;
	char tried[2048], why[1024];
	size_t tl = 0;
	char *pak, *psk;
	int exists = 0, rc;
	long long now = (long long)time(NULL);

	memset(out, 0, sizeof(*out));
	tried[0] = '\0';
#define TRIED(...)                                                                                 \
	do {                                                                                       \
		if (tl < sizeof(tried))                                                            \
			tl += (size_t)snprintf(tried + tl, sizeof(tried) - tl, "%s",               \
					       tl ? "; " : "");                                    \
		if (tl < sizeof(tried))                                                            \
			tl += (size_t)snprintf(tried + tl, sizeof(tried) - tl, __VA_ARGS__);       \
	} while (0)

	/* 1. The environment. */
	ak = env("AWS_ACCESS_KEY_ID");
	sk = env("AWS_SECRET_ACCESS_KEY");
	if (ak && sk) {
		out->access_key = strdup(ak);
		out->secret_key = strdup(sk);
		out->token = xstrdup(env("AWS_SESSION_TOKEN"));
		snprintf(out->source, sizeof(out->source), "environment");
		register_secrets(out);
		return 0;
	}
	if (ak || sk)
		TRIED("environment (%s is set but %s is not)",
		      ak ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		      ak ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	else
		TRIED("environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY unset)");

	/* 2. The shared files. */
	pak = profile_lookup("aws_access_key_id", &where, &exists);
	psk = profile_lookup("aws_secret_access_key", NULL, NULL);
	if (pak && psk && *pak && *psk) {
		out->access_key = pak;
		out->secret_key = psk;
		out->token = profile_lookup("aws_session_token", NULL, NULL);
		snprintf(out->source, sizeof(out->source), "%s", where);
		register_secrets(out);
		return 0;
	}
	free(pak);
	free(psk);
	{
		char *cp = aws_credentials_path(), *fp = aws_config_path();
		char *other = NULL;

		if (exists) {
			other = profile_lookup("role_arn", NULL, NULL);
			if (!other)
				other = profile_lookup("credential_process", NULL, NULL);
			if (!other)
				other = profile_lookup("sso_start_url", NULL, NULL);
			if (!other)
				other = profile_lookup("sso_session", NULL, NULL);
		}
		TRIED("profile %s in %s and %s (%s)", aws_profile_name(), cp ? cp : "?",
		      fp ? fp : "?",
		      !exists ? "no such profile"
		      : other ? "role_arn / credential_process / SSO profiles are not supported"
			      : "no aws_access_key_id and aws_secret_access_key");
		free(other);
		free(cp);
		free(fp);
		if (!exists && (env("AWS_PROFILE") || env("AWS_DEFAULT_PROFILE"))) {
			pgm_fail(call, "aws.profile_not_found", 0,
				 "aws: the profile \"%s\" named by AWS_PROFILE is in neither "
				 "shared file: %s",
				 aws_profile_name(), tried);
			return -1;
		}
	}

	/* Cached temporary credentials (container or IMDS). */
	pthread_mutex_lock(&cache_lock);
	if (cache.access_key && (cache.expires == 0 || cache.expires - REFRESH_MARGIN_S > now)) {
		creds_copy(out, &cache);
		pthread_mutex_unlock(&cache_lock);
		return 0;
	}
	pthread_mutex_unlock(&cache_lock);

	/* 3. The container endpoint. */
	why[0] = '\0';
	rc = from_container(call, out, why, sizeof(why));
	if (rc < 0) {
		if (pgm_cancelled(call))
			return pgm_check_cancel(call);
		pgm_fail(call, "aws.credentials_failed", 1, "aws: credentials: %s", why);
		return -1;
	}
	if (rc == 0) {
		TRIED("container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI "
		      "unset)");
		/* 4. The instance metadata service. */
		if (env_true("AWS_EC2_METADATA_DISABLED")) {
			TRIED("instance metadata (AWS_EC2_METADATA_DISABLED=true)");
		} else {
			rc = from_imds(call, out, why, sizeof(why));
			if (rc < 0) {
				if (pgm_cancelled(call))
					return pgm_check_cancel(call);
				TRIED("%s", why);
			}
		}
	}
	if (rc <= 0) {
		aws_creds_clear(out);
		pgm_fail(call, "aws.credentials_missing", 0, "aws: no credentials found; tried: %s",
			 tried);
		return -1;
	}
	register_secrets(out);
	pthread_mutex_lock(&cache_lock);
	aws_creds_clear(&cache);
	creds_copy(&cache, out);
	pthread_mutex_unlock(&cache_lock);
	pgm_debug("aws: credentials from %s, access key %s, expire in %llds", out->source,
		  out->access_key, out->expires ? out->expires - now : -1LL);
	return 0;
#undef TRIED
}
