#!/bin/sh
# tests/dynamodb/test_dynamodb.sh - the dynamodb plugin against moto's
# DynamoDB and a real PostgreSQL: describe_table, backup, enable_stream,
# copy_to_postgres with the document and the column mapping (every attribute
# type, nested maps and lists, a large item, sparse attributes, misfits),
# resuming from the segments' checkpoints, and verify finding one changed,
# one missing and one extra item by key.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/dynamodb/lib.sh"
start_sandbox
moto_start
N=600

$DDB create orders && $DDB load orders $N || { echo "not ok - loading moto"; exit 1; }

# describe_table
expect 0 "describe_table" pgmove call dynamodb.describe_table table=orders --json
equals "$(jq '[d["keys"], d["item_count"], d["billing_mode"], d["stream"]["enabled"]]')" \
	'[[{"name": "pk", "role": "HASH", "type": "S"}], '$N', "PAY_PER_REQUEST", false]' \
	"describe_table: keys, item count, billing mode, no stream"
expect 1 "describe_table: a missing table fails" pgmove call dynamodb.describe_table table=nope --json
has "$T/out" '"code": *"dynamodb.ResourceNotFoundException"' "naming AWS's code"

# enable_stream, adopted the second time
expect 0 "enable_stream" pgmove call dynamodb.enable_stream table=orders --json
equals "$(jq '[d["view_type"], d["adopted"], d["arn"] is not None]')" '["NEW_AND_OLD_IMAGES", false, true]' "stream enabled"
expect 0 "enable_stream again" pgmove call dynamodb.enable_stream table=orders --json
equals "$(jq 'd["adopted"]')" "true" "adopted"

# backup
expect 0 "backup" pgmove call dynamodb.backup table=orders name=pre-migration every=100ms timeout=30s --json
equals "$(jq '[d["status"], d["name"], d["arn"].startswith("arn:aws:dynamodb:")]')" '["AVAILABLE", "pre-migration", true]' "backup AVAILABLE"

# document mapping
psql_tgt "CREATE TABLE orders_doc (pk text PRIMARY KEY, item jsonb NOT NULL)"
expect 0 "copy_to_postgres: document mapping" pgmove call dynamodb.copy_to_postgres table=orders \
	target=@env:PGMOVE_TARGET into=orders_doc segments=3 page_size=50 --json
equals "$(jq '[d["items"], d["misfits"], d["resumed"]]')" "[$N, 0, false]" "every item copied"
equals "$(psql_tgt "SELECT count(*) FROM orders_doc")" "$N" "$N rows"
equals "$(psql_tgt "SELECT item->>'price', item->'doc'->'a'->2->'deep', item->'tags', item->'nums' FROM orders_doc WHERE pk = 'item-000429'")" \
	'12345678901234567890.1234567899|true|["a", "b,c", "d\"e"]|[1, 2.5, -30000000000]' \
	"numbers without loss, nested maps and lists, sets"
equals "$(psql_tgt "SELECT item->>'blob', item->'blobs'->>0 FROM orders_doc WHERE pk = 'item-000055'")" "AAEC/zc=|AHg=" "binary as base64"
equals "$(psql_tgt "SELECT length(item->>'big') FROM orders_doc WHERE pk = 'item-000017'")" "300000" "the large item"
equals "$(psql_tgt "SELECT item->>'name' = E'name\t0 \"quoted\" \\\\ back\nline ü', item ? 'price', item ? 'flag' FROM orders_doc WHERE pk = 'item-000000'")" \
	"t|t|t" "tabs, quotes, backslashes, newlines and UTF-8 kept"
expect 0 "verify: document mapping" pgmove call dynamodb.verify table=orders target=@env:PGMOVE_TARGET into=orders_doc segments=2 --json
equals "$(jq '[d["equal"], d["items"], d["differences"]]')" "[true, $N, 0]" "0 differences"

# verify finds one changed attribute, one missing and one extra row
$DDB update orders item-000123 name changed
psql_tgt "DELETE FROM orders_doc WHERE pk = 'item-000200'"
psql_tgt "INSERT INTO orders_doc VALUES ('ghost', '{}')"
expect 0 "verify after changes" pgmove call dynamodb.verify table=orders target=@env:PGMOVE_TARGET into=orders_doc --json
equals "$(jq '[d["equal"], d["differences"], d["changed"], d["missing"], d["extra"]]')" \
	'[false, 3, [{"pk": "item-000123"}], [{"pk": "item-000200"}], [{"pk": "ghost"}]]' "one changed, one missing, one extra, by key"

# a re-run copy upserts: the changed and missing items are repaired
expect 0 "copy again" pgmove call dynamodb.copy_to_postgres table=orders target=@env:PGMOVE_TARGET into=orders_doc --json
expect 0 "verify after the re-run" pgmove call dynamodb.verify table=orders target=@env:PGMOVE_TARGET into=orders_doc --json
equals "$(jq '[d["differences"], d["extra"]]')" '[1, [{"pk": "ghost"}]]' "only the extra row remains"

# column mapping
psql_tgt "CREATE TABLE orders_col (pk text PRIMARY KEY, n numeric, name text, price numeric, blob bytea,
	flag boolean, nothing text, tags text[], nums numeric[], blobs bytea[], doc jsonb, big text)"
COLS='{"n":"numeric","name":"text","price":"numeric","blob":"bytea","flag":"boolean","nothing":"text","tags":"text[]","nums":"numeric[]","blobs":"bytea[]","doc":"jsonb","big":"text"}'
expect 0 "copy_to_postgres: column mapping" pgmove call dynamodb.copy_to_postgres table=orders \
	target=@env:PGMOVE_TARGET into=orders_col columns="$COLS" segments=2 page_size=100 --json
equals "$(psql_tgt "SELECT n, price IS NULL, encode(blob, 'hex'), flag, nothing IS NULL, tags, nums, encode(blobs[1], 'hex'), doc IS NULL FROM orders_col WHERE pk = 'item-000385'")" \
	'385|t|000102ff81|f|t|{a,"b,c","d\"e"}|{1,2.5,-30000000000}|0078|t' \
	"S, N, B, BOOL, NULL, SS, NS, BS each in their column"
equals "$(psql_tgt "SELECT flag, doc->'a'->>1 FROM orders_col WHERE pk = 'item-000182'")" "t|two" "BOOL and M/L -> jsonb"
equals "$(psql_tgt "SELECT price FROM orders_col WHERE pk = 'item-000429'")" "12345678901234567890.1234567899" "N -> numeric without loss"
expect 0 "verify: column mapping" pgmove call dynamodb.verify table=orders target=@env:PGMOVE_TARGET into=orders_col columns="$COLS" --json
equals "$(jq '[d["equal"], d["items"]]')" "[true, $N]" "0 differences in the column mapping"

# an item that does not fit: a clear error naming it, or set aside when asked
$DDB put orders '{"pk": {"S": "odd"}, "n": {"S": "not a number"}}'
psql_tgt "CREATE TABLE orders_col2 (LIKE orders_col INCLUDING ALL)"
expect 1 "a misfit fails the copy" pgmove call dynamodb.copy_to_postgres table=orders \
	target=@env:PGMOVE_TARGET into=orders_col2 columns="$COLS" --json
has "$T/out" 'dynamodb.item_misfit' "code dynamodb.item_misfit"
has "$T/out" 'item \{\\"pk\\": *\\"odd\\"\}: attribute n is of type S, the column is numeric' "naming the item and the attribute"
expect 0 "misfits set aside" pgmove call dynamodb.copy_to_postgres table=orders \
	target=@env:PGMOVE_TARGET into=orders_col2 columns="$COLS" misfits=orders_misfits --json
equals "$(jq '[d["items"], d["misfits"]]')" "[$((N + 1)), 1]" "counted"
equals "$(psql_tgt "SELECT key->>'pk', item->>'n' FROM orders_misfits")" "odd|not a number" "the item kept in the misfits table"
UNMAPPED='{"n":"numeric"}'
psql_tgt "CREATE TABLE orders_col3 (pk text PRIMARY KEY, n numeric)"
expect 1 "an unmapped attribute fails" pgmove call dynamodb.copy_to_postgres table=orders \
	target=@env:PGMOVE_TARGET into=orders_col3 columns="$UNMAPPED" --json
has "$T/out" 'has no column' "saying which attribute has no column"
expect 1 "a bad column type" pgmove call dynamodb.copy_to_postgres table=orders \
	target=@env:PGMOVE_TARGET into=orders_col3 columns='{"n":"float"}' --json
has "$T/out" 'columns.n: type must be one of' "names the column and the types"
lacks "$T/out" "$SB_PASSWORD" "no password in the errors"

finish
