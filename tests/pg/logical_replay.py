#!/usr/bin/env python3
"""tests/pg/logical_replay.py - replays the log of tests/pg/logical-writer
(one line per committed transaction: "n op id port") and compares the
result with what a server holds.

    logical_replay.py LOG ITEMS TXNS

ITEMS holds the server's writer_items as "id|v" lines, TXNS its writer_txn
as one n per line (psql -At output). Prints a JSON report and exits 0 only
when the server holds exactly the replayed state: every committed insert,
update and delete, none missing, none extra, none applied twice (writer_txn
has each committed n once and nothing else).
"""
import json
import sys


def main():
    log, items_path, txns_path = sys.argv[1:4]
    state = {}
    committed = []
    for line in open(log):
        parts = line.split()
        if len(parts) != 4:
            continue  # a torn last line: the writer was killed while writing it
        n, op, key, _port = int(parts[0]), parts[1], int(parts[2]), parts[3]
        committed.append(n)
        if op == "insert":
            if key in state:
                print(json.dumps({"ok": False, "error": "id %d inserted twice" % key}))
                return 1
            state[key] = "n%d" % n
        elif op == "update":
            state[key] = "n%d" % n
        elif op == "delete":
            state.pop(key, None)
    actual = {}
    for line in open(items_path):
        line = line.rstrip("\n")
        if line:
            k, v = line.split("|", 1)
            actual[int(k)] = v
    txns = [int(x) for x in open(txns_path).read().split()]
    missing = sorted(k for k in state if k not in actual)
    extra = sorted(k for k in actual if k not in state)
    different = sorted(k for k in state if k in actual and actual[k] != state[k])
    txn_missing = sorted(set(committed) - set(txns))
    txn_extra = sorted(set(txns) - set(committed))
    ok = not (missing or extra or different or txn_missing or txn_extra) and \
        len(txns) == len(set(txns))
    print(json.dumps({
        "ok": ok, "committed": len(committed), "rows_expected": len(state),
        "rows_actual": len(actual), "missing": missing[:20], "extra": extra[:20],
        "different": different[:20], "txn_missing": txn_missing[:20],
        "txn_extra": txn_extra[:20], "txn_rows": len(txns)}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
