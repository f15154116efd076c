# tests/dynamodb/local.mk - fragment of Makefile.am: the dynamodb plugin
# against moto's DynamoDB / DynamoDB Streams and a real PostgreSQL.
DDB_TESTS = tests/dynamodb/test_dynamodb.sh tests/dynamodb/test_dynamodb_resume.sh \
	tests/dynamodb/test_dynamodb_streams.sh tests/dynamodb/test_dynamodb_runbook.sh \
	tests/dynamodb/test_dynamodb_parallel.sh
TESTS += $(DDB_TESTS)
EXTRA_DIST += $(DDB_TESTS) tests/dynamodb/lib.sh tests/dynamodb/ddb_tool.py tests/dynamodb/fault_proxy.py tests/dynamodb/copy.lua
