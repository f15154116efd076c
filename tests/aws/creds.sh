#!/bin/sh
# tests/aws/creds.sh - the credentials chain and the region, in the order
# AWS's tools use (environment, shared credentials/config files with
# AWS_PROFILE, container endpoint, EC2 instance metadata with IMDSv2), with a
# private HOME, against the fake (which also plays the container endpoint and
# the metadata service). Each case checks which key signed the request the
# fake received.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/aws/lib.sh"

fake_start --polls 1
ctl seed "{\"snapshots\": [{\"id\": \"snap-a\", \"instance\": \"db\"}]}" >/dev/null
ctl keys '{
 "AKIDFILE": {"secret": "file/secret/000000"},
 "AKIDPROF": {"secret": "prof/secret/000000", "token": "prof-token-0001"},
 "AKIDCONT": {"secret": "cont/secret/000000", "token": "cont-token-0001", "source": "container"},
 "AKIDIMDS": {"secret": "imds/secret/000000", "token": "imds-token-0001", "source": "imds"}
}' >/dev/null
export AWS_ENDPOINT_URL="$FAKE_URL"
export AWS_REGION=us-west-2

# last_key: the access key of the last API request the fake received
last_key() {
	jget "$(ctl requests)" 'j[-1]["access_key"]'
}
call_ok() {
	pcall rds_snapshot.describe_snapshot id=snap-a
	expect_eq "$1: call succeeds" "$RC" 0
	[ "$RC" = 0 ] || echo "$OUT" >&2
	expect_eq "$1: signed with $2" "$(last_key)" "$2"
}

# --- nothing anywhere ------------------------------------------------------------
pcall rds_snapshot.describe_snapshot id=snap-a
expect_eq "none found" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/aws.credentials_missing
MSG=$(jget "$OUT" 'j["error"]["message"]')
expect_match "lists the environment" "$MSG" "environment \(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY unset\)"
expect_match "lists the shared files" "$MSG" "profile default in $HOME/.aws/credentials and $HOME/.aws/config \(no such profile\)"
expect_match "lists the container endpoint" "$MSG" "container endpoint \(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI unset\)"
expect_match "lists instance metadata" "$MSG" "instance metadata \(AWS_EC2_METADATA_DISABLED=true\)"
AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:1 \
	pcall rds_snapshot.describe_snapshot id=snap-a
expect_match "an unreachable metadata service is listed" "$(jget "$OUT" 'j["error"]["message"]')" \
	"instance metadata http://127.0.0.1:1: .*onnect"
AWS_ACCESS_KEY_ID=AKIDHALF pcall rds_snapshot.describe_snapshot id=snap-a
expect_match "half-set environment is named" "$OUT" "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"

# --- shared files -------------------------------------------------------------------
mkdir -p "$HOME/.aws"
cat >"$HOME/.aws/credentials" <<EOF
# comment
[default]
aws_access_key_id = AKIDFILE
aws_secret_access_key = file/secret/000000

[other]
aws_access_key_id=AKIDNOPE
aws_secret_access_key=nope
EOF
cat >"$HOME/.aws/config" <<EOF
[default]
region = eu-west-1

[profile ops]
region = ap-southeast-2
aws_access_key_id = AKIDPROF
aws_secret_access_key = prof/secret/000000
aws_session_token = prof-token-0001
s3 =
    max_concurrent_requests = 10
EOF
call_ok "default profile in ~/.aws/credentials" AKIDFILE
(unset AWS_REGION; pcall rds_snapshot.describe_snapshot id=snap-a
 expect_eq "region from the default profile" "$(jget "$(ctl requests)" 'j[-1]["region"]')" eu-west-1
 exit $FAILS) || FAILS=$((FAILS + 1))
AWS_PROFILE=ops call_ok "AWS_PROFILE from ~/.aws/config, with a session token" AKIDPROF
(unset AWS_REGION; AWS_PROFILE=ops pcall rds_snapshot.describe_snapshot id=snap-a
 expect_eq "region from profile ops" "$(jget "$(ctl requests)" 'j[-1]["region"]')" ap-southeast-2
 AWS_DEFAULT_REGION=ca-central-1 AWS_PROFILE=ops pcall rds_snapshot.describe_snapshot id=snap-a
 expect_eq "AWS_DEFAULT_REGION beats the profile" "$(jget "$(ctl requests)" 'j[-1]["region"]')" ca-central-1
 exit $FAILS) || FAILS=$((FAILS + 1))
AWS_PROFILE=nope pcall rds_snapshot.describe_snapshot id=snap-a
expect_eq "unknown AWS_PROFILE" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/aws.profile_not_found
mv "$HOME/.aws/credentials" "$TMP/creds-elsewhere"
AWS_SHARED_CREDENTIALS_FILE="$TMP/creds-elsewhere" call_ok "AWS_SHARED_CREDENTIALS_FILE" AKIDFILE
mv "$HOME/.aws/config" "$TMP/config-elsewhere"
AWS_PROFILE=ops AWS_CONFIG_FILE="$TMP/config-elsewhere" call_ok "AWS_CONFIG_FILE" AKIDPROF
mv "$TMP/creds-elsewhere" "$HOME/.aws/credentials"

# --- environment beats files -----------------------------------------------------------
AWS_ACCESS_KEY_ID=$FAKE_AKID AWS_SECRET_ACCESS_KEY=$FAKE_SECRET call_ok "environment before files" $FAKE_AKID

# --- container endpoint -------------------------------------------------------------------
ctl container_token '{"token": "Bearer cont-auth-0001"}' >/dev/null
export AWS_CONTAINER_CREDENTIALS_FULL_URI="$FAKE_URL/creds/task"
export AWS_CONTAINER_AUTHORIZATION_TOKEN="Bearer cont-auth-0001"
call_ok "files before the container endpoint" AKIDFILE
mv "$HOME/.aws/credentials" "$TMP/creds-off"
call_ok "container endpoint (full URI, authorization token)" AKIDCONT
echo "Bearer cont-auth-0001" >"$TMP/token-file"
(unset AWS_CONTAINER_AUTHORIZATION_TOKEN; AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$TMP/token-file" \
	call_ok "container endpoint, token from a file" AKIDCONT; exit $FAILS) || FAILS=$((FAILS + 1))
AWS_CONTAINER_AUTHORIZATION_TOKEN="Bearer wrong" pcall rds_snapshot.describe_snapshot id=snap-a
expect_eq "container endpoint refuses" "$RC/$(jget "$OUT" 'j["error"]["code"]')" 1/aws.credentials_failed
expect_match "container failure says HTTP 401" "$OUT" "HTTP 401"
AWS_CONTAINER_CREDENTIALS_FULL_URI="http://example.com/creds" pcall rds_snapshot.describe_snapshot id=snap-a
expect_match "plain http only to loopback" "$OUT" "plain http is allowed only to a loopback"
# Temporary credentials are cached until shortly before they expire.
ctl seed "$("$PY" -c 'import json; print(json.dumps({"snapshots": [{"id": "p%03d" % i, "instance": "pg"} for i in range(120)]}))')" >/dev/null
B=$(jget "$(ctl keys)" 'j["AKIDCONT"]["served"]')
pcall rds_snapshot.list_snapshots instance=pg
expect_eq "two pages" "$(jget "$OUT" 'j["pages"]')" 2
expect_eq "credentials fetched once for two requests" "$(jget "$(ctl keys)" 'j["AKIDCONT"]["served"]')" $((B + 1))
ctl keys "{\"AKIDCONT\": {\"secret\": \"cont/secret/000000\", \"token\": \"cont-token-0001\", \"source\": \"container\", \"expiration\": \"$("$PY" -c 'import datetime; print((datetime.datetime.utcnow()+datetime.timedelta(seconds=120)).strftime("%Y-%m-%dT%H:%M:%SZ"))')\"}}" >/dev/null
B=$(jget "$(ctl keys)" 'j["AKIDCONT"]["served"]')
pcall rds_snapshot.list_snapshots instance=pg
expect_eq "credentials about to expire are fetched again" "$(jget "$(ctl keys)" 'j["AKIDCONT"]["served"]')" $((B + 2))

# ExpiredToken on cached temporary credentials: fetched again once, then the call succeeds.
B=$(jget "$(ctl keys)" 'j["AKIDCONT"]["served"]')
pcall rds_snapshot.describe_snapshot id=snap-a
ctl inject '{"action": "DescribeDBSnapshots", "kind": "expired", "count": 1}' >/dev/null
B=$(jget "$(ctl keys)" 'j["AKIDCONT"]["served"]')
pcall rds_snapshot.list_snapshots instance=pg
expect_eq "ExpiredToken: refreshed and retried" "$RC" 0
expect_match "ExpiredToken: says so" "$ERR" "ExpiredToken: refreshing credentials"
expect_eq "ExpiredToken: credentials fetched again" \
	"$(jget "$(ctl keys)" 'j["AKIDCONT"]["served"] > '"$B")" true

# --- instance metadata (IMDSv2) ---------------------------------------------------------------
export AWS_EC2_METADATA_DISABLED=false AWS_EC2_METADATA_SERVICE_ENDPOINT="$FAKE_URL"
call_ok "container endpoint before instance metadata" AKIDCONT
unset AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_AUTHORIZATION_TOKEN
call_ok "instance metadata with an IMDSv2 token" AKIDIMDS
expect_eq "the metadata service was asked" "$(jget "$(ctl keys)" 'j["AKIDIMDS"]["served"] >= 1')" true

# --- no secret reached any output --------------------------------------------------------------
for secret in file/secret/000000 prof/secret/000000 prof-token-0001 cont/secret/000000 \
	cont-token-0001 imds/secret/000000 imds-token-0001 cont-auth-0001; do
	expect_no_match "no $secret in any output" "$(cat "$TMP/all.err" "$TMP/out")" "$secret"
done

finish
