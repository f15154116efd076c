/*
 * core/aws/aws_internal.h - the pieces of libpgmove's AWS layer (core/aws*.c)
 * that the layer shares between its files and that its unit tests call
 * directly. Not installed; plugins use pgm_aws_query / pgm_aws_json.
 *
 * aws_sigv4.c  Signature Version 4: canonical request, string to sign,
 *              signing key, Authorization header (libcrypto SHA-256/HMAC)
 * aws_xml.c    Query-protocol XML -> JSON (libxml2), error bodies of the
 *              XML and JSON shapes
 * aws_creds.c  the credentials chain, the shared config files, the region
 * aws.c        endpoints, the Query and JSON 1.1 protocols, retries
 */
#ifndef PGMOVE_CORE_AWS_INTERNAL_H
#define PGMOVE_CORE_AWS_INTERNAL_H

#include <stddef.h>

#include "pgmove/plugin.h"

/* ---- aws_sigv4.c ---------------------------------------------------- */

/* aws_sigv4_request - what is signed. headers are "Name: value" strings,
 * NULL-terminated; every one of them is signed (the caller leaves out
 * User-Agent and the like). path is the unencoded absolute path; query is
 * the raw query string without '?' (NULL or "" for none). */
typedef struct aws_sigv4_request {
	const char *method;
	const char *path;
	const char *query;
	const char *const *headers;
	const char *payload;
	size_t payload_len;
	const char *amz_date; /* "20150830T123600Z", also in an X-Amz-Date header */
	const char *region;
	const char *service;
	const char *access_key;
	const char *secret_key;
} aws_sigv4_request;

/* aws_uri_encode - RFC 3986 encoding as SigV4 wants it: every byte but
 * A-Z a-z 0-9 - . _ ~ becomes %XX (upper-case hex); '/' is kept when
 * keep_slash. Caller frees. */
char *aws_uri_encode(const char *s, size_t len, int keep_slash);
/* aws_sha256_hex - lower-case hex SHA-256 of data into out[65]. */
void aws_sha256_hex(const void *data, size_t len, char out[65]);
/* aws_sigv4_canonical_query - the canonical query string of a raw one:
 * pairs decoded, re-encoded, sorted by name then value. Caller frees. */
char *aws_sigv4_canonical_query(const char *query);
/* aws_sigv4_normalize_path - the path with dot segments resolved and
 * runs of '/' collapsed, a trailing '/' kept ("/a/./b/../c//" -> "/a/c/").
 * Caller frees. */
char *aws_sigv4_normalize_path(const char *path);
/* aws_sigv4_canonical_request / aws_sigv4_string_to_sign - the first two
 * steps, exposed for the test-suite vectors. Caller frees. */
char *aws_sigv4_canonical_request(const aws_sigv4_request *r, char **signed_headers);
char *aws_sigv4_string_to_sign(const aws_sigv4_request *r, const char *canonical_request);
/* aws_sigv4_authorization - the value of the Authorization header:
 * "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request,
 * SignedHeaders=host;x-amz-date, Signature=...". NULL on a libcrypto
 * failure. Caller frees. */
char *aws_sigv4_authorization(const aws_sigv4_request *r);
/* aws_amz_date - "YYYYMMDDTHHMMSSZ" of t (UTC) into buf[17]. */
void aws_amz_date(long long t, char buf[17]);

/* ---- aws_xml.c ------------------------------------------------------ */

/* aws_error - an error answer of AWS, parsed. Strings are owned; free
 * with aws_error_clear. */
typedef struct aws_error {
	char *code;	  /* "DBSnapshotNotFound", "Throttling"             */
	char *message;	  /* may be NULL                                      */
	char *type;	  /* "Sender" / "Receiver" (Query shape), may be NULL */
	char *request_id; /* may be NULL                                      */
} aws_error;
void aws_error_clear(aws_error *e);

/* aws_xml_to_json - converts a Query-protocol answer: the element named
 * result (e.g. "DescribeDBSnapshotsResult") under the root, converted to
 * JSON; an answer without one (DeleteAlarms) gives {}. Elements become
 * keys, text becomes strings, lists (children named member/item, or all
 * children of one name that is a known list element, or repeated names)
 * become arrays. NULL with a message in err (caller frees) when the body
 * is not XML, or when result is "XResult" and the root element is not
 * <XResponse> (a proxy's XHTML page, another action's answer). New
 * reference. */
json_t *aws_xml_to_json(const char *body, size_t len, const char *result, char **err);
/* aws_xml_node_json - the conversion of any element (exposed for tests);
 * xml is a whole document whose root element is converted. */
json_t *aws_xml_doc_json(const char *body, size_t len, char **err);
/* aws_xml_error - parses an XML error answer of either shape:
 * <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>
 * (Query), <ErrorResponse><Errors><Error>... (some services, moto), or <Response><Errors><Error><Code/><Message/></Error></Errors>
 * <RequestID/> (EC2 style), or a bare <Error>. Returns 1 and fills e when
 * the body is one, 0 when it is not an error document (or not XML). */
int aws_xml_error(const char *body, size_t len, aws_error *e);
/* aws_json_error - parses a JSON 1.1 error: {"__type": "prefix#Code",
 * "message": "..."} (or "Message"); the x-amzn-errortype header (may be
 * NULL) wins for the code. Returns 1 and fills e, 0 when none. */
int aws_json_error(const char *body, size_t len, const char *errortype_header, aws_error *e);

/* ---- aws_creds.c ---------------------------------------------------- */

typedef struct aws_creds {
	char *access_key;
	char *secret_key;
	char *token;	   /* NULL without a session token                 */
	long long expires; /* epoch seconds; 0 when they do not expire      */
	char source[48];   /* "environment", "shared credentials file", ... */
	int refreshable;   /* from the container or IMDS (cached)           */
} aws_creds;

/* aws_creds_get - resolves credentials through the chain (environment,
 * shared credentials/config files for AWS_PROFILE or default, container
 * endpoint, EC2 instance metadata with IMDSv2). Container and IMDS
 * credentials are cached until five minutes before they expire. Registers
 * the secret key and token with pgm_secret_add. Returns 0, or -1 with the
 * call's error set ("aws.credentials_missing" naming what was tried, or the
 * failure of the source that was configured). out is owned by the caller:
 * aws_creds_clear. */
int aws_creds_get(pgm_call *call, aws_creds *out);
void aws_creds_clear(aws_creds *c);
/* aws_creds_invalidate - forgets cached credentials (after ExpiredToken). */
void aws_creds_invalidate(void);

/* aws_profile_name - AWS_PROFILE, else AWS_DEFAULT_PROFILE, else "default". */
const char *aws_profile_name(void);
/* aws_profile_get - the value of key in the active profile: the shared
 * credentials file first (section [name]), then the config file ([name]
 * for default, [profile name] otherwise). Caller frees; NULL if absent.
 * *where (may be NULL) gets a static description of the file it came from. */
char *aws_profile_get(const char *key, const char **where);
/* aws_config_path / aws_credentials_path - the shared files' paths, from
 * AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE or ~/.aws/. Caller frees. */
char *aws_config_path(void);
char *aws_credentials_path(void);

/* aws_region_resolve - the region: param, AWS_REGION, AWS_DEFAULT_REGION,
 * the profile's "region". Returns a new string, or NULL with the call's
 * error set ("aws.region_missing" listing what was tried,
 * "aws.region_unknown" for a name no AWS partition has). */
char *aws_region_resolve(pgm_call *call, const char *param);
/* aws_region_dns_suffix - "amazonaws.com", "amazonaws.com.cn", ...; NULL
 * when the region matches no partition. */
const char *aws_region_dns_suffix(const char *region);

/* ---- aws.c ---------------------------------------------------------- */

/* aws_retryable_code - 1 for the codes the SDKs' standard mode retries
 * (throttling and transient ones), 2 for throttling codes, 0 otherwise. */
int aws_retryable_code(const char *code);
/* aws_form_encode - the form body of a Query call: Action, Version and the
 * flat params, sorted, each name and value URI-encoded. Returns NULL and
 * sets *bad to the offending key when a value is an object or array. */
char *aws_form_encode(const char *action, const char *version, json_t *params, const char **bad);

#endif
