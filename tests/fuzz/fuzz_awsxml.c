/*
 * tests/fuzz/fuzz_awsxml.c - libFuzzer harness: the AWS answer converters
 * (core/aws/aws_xml.c): Query-protocol XML to JSON, XML and JSON error
 * bodies. Whatever the bytes, a result or an error, never a crash; a
 * result is valid JSON.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	char *err = NULL;
	json_t *j = aws_xml_to_json(body, size, "DescribeDBInstancesResult", &err);
	if (j) {
		char *text = json_dumps(j, JSON_ENCODE_ANY);
		if (!text)
			abort(); /* a converted answer must be JSON */
		free(text);
	}
	json_decref(j);
	free(err);
	err = NULL;
	j = aws_xml_doc_json(body, size, &err);
	json_decref(j);
	free(err);
	aws_error e;
	memset(&e, 0, sizeof(e));
	aws_xml_error(body, size, &e);
	aws_error_clear(&e);
	memset(&e, 0, sizeof(e));
	aws_json_error(body, size, size > 3 ? "x#Y" : NULL, &e);
	aws_error_clear(&e);
	return 0;
}
