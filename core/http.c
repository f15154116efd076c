/* core/http.c - HTTP exchanges through libcurl (being written). */
#define _GNU_SOURCE
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hostpriv.h"

int pgm_http_send(pgm_call *call, const pgm_http_request *req, pgm_http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	pgm_fail(call, "http.unavailable", 0, "http: not implemented yet");
	return -1;
}

void pgm_http_response_free(pgm_http_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	json_decref(resp->headers);
	memset(resp, 0, sizeof(*resp));
}
