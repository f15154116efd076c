# bench/local.mk - fragment of Makefile.am
# bench/ - benchmarks, run by hand (not in make check); they report ratios
# against baselines measured in the same run.
EXTRA_DIST += bench/engine_bench.py
# checksum.compare against COPY and the seeds' md5(array_agg()) query
EXTRA_DIST += bench/checksum-bench.sh
# logical-cdc-cutover under pgbench and our writer against pg_dump/pg_restore
EXTRA_DIST += bench/logical-bench.sh
# the copy plugin against pgcopydb clone and pg_dump | pg_restore
EXTRA_DIST += bench/copy-bench.sh
# dynamodb.copy_to_postgres / verify from moto against boto3 scans of the same table
EXTRA_DIST += bench/dynamodb-bench.sh
# checksum.compare_live under writes against the same compare on a quiet pair
EXTRA_DIST += bench/live-verify-bench.sh
