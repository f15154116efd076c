#!/usr/bin/env python3
"""tests/dynamodb/ddb_tool.py - drives a DynamoDB endpoint (moto) for the
dynamodb plugin's tests with botocore (an independent client):
  create TABLE [--range]           a table keyed by pk (S) [and sk (N)]
  load TABLE N [--seed S]          N items: every attribute type, nested maps
                                   and lists, a large item, sparse attributes
  put TABLE JSON                   one item in DynamoDB JSON
  update TABLE PK ATTR VALUE       sets one S attribute of item pk=PK
  delete TABLE PK                  deletes item pk=PK
  writes TABLE N [SLEEP]           N writes spread over time, as an application
                                   does: puts of new items, updates, deletes
                                   (one of each in turn), SLEEP s apart
  count TABLE                      items, by a paginated Scan
  scan-rate TABLE                  items/s of a plain paginated Scan
Endpoint from AWS_ENDPOINT_URL_DYNAMODB; region AWS_REGION."""
import os, sys, time
import botocore.session

def client():
    s = botocore.session.get_session()
    return s.create_client("dynamodb", region_name=os.environ.get("AWS_REGION", "eu-west-1"),
                           endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])

def item(i):
    it = {"pk": {"S": "item-%06d" % i}, "n": {"N": str(i)}}
    # sparse: each optional attribute on a subset of the items
    if i % 2 == 0:
        it["name"] = {"S": "name\t%d \"quoted\" \\ back\nline ü" % i}
    if i % 3 == 0:
        it["price"] = {"N": "12345678901234567890.123456789%d" % (i % 10)}
    if i % 5 == 0:
        it["blob"] = {"B": bytes([0, 1, 2, 255, i % 256])}  # botocore base64-encodes
    if i % 7 == 0:
        it["flag"] = {"BOOL": i % 2 == 0}
        it["nothing"] = {"NULL": True}
    if i % 11 == 0:
        it["tags"] = {"SS": ["a", "b,c", "d\"e"]}
        it["nums"] = {"NS": ["1", "2.5", "-3e10"]}
        it["blobs"] = {"BS": [b"\x00x"]}
    if i % 13 == 0:
        it["doc"] = {"M": {"a": {"L": [{"N": "1"}, {"S": "two"}, {"M": {"deep": {"BOOL": True}}}]},
                           "b": {"NULL": True}}}
    if i == 17:
        it["big"] = {"S": "x" * 300000}  # a large item (DynamoDB's limit is 400 KB)
    return it

def main():
    c = client()
    cmd, table = sys.argv[1], sys.argv[2]
    if cmd == "create":
        ks = [{"AttributeName": "pk", "KeyType": "HASH"}]
        ad = [{"AttributeName": "pk", "AttributeType": "S"}]
        if "--range" in sys.argv:
            ks.append({"AttributeName": "sk", "KeyType": "RANGE"})
            ad.append({"AttributeName": "sk", "AttributeType": "N"})
        c.create_table(TableName=table, KeySchema=ks, AttributeDefinitions=ad,
                       BillingMode="PAY_PER_REQUEST")
    elif cmd == "load":
        n = int(sys.argv[3])
        batch = []
        for i in range(n):
            batch.append({"PutRequest": {"Item": item(i)}})
            if len(batch) == 25 or i == n - 1:
                req = {table: batch}
                while req:
                    r = c.batch_write_item(RequestItems=req)
                    req = r.get("UnprocessedItems") or None
                batch = []
    elif cmd == "put":
        import json
        c.put_item(TableName=table, Item=json.loads(sys.argv[3]))
    elif cmd == "update":
        c.update_item(TableName=table, Key={"pk": {"S": sys.argv[3]}},
                      UpdateExpression="SET #a = :v", ExpressionAttributeNames={"#a": sys.argv[4]},
                      ExpressionAttributeValues={":v": {"S": sys.argv[5]}})
    elif cmd == "delete":
        c.delete_item(TableName=table, Key={"pk": {"S": sys.argv[3]}})
    elif cmd == "writes":
        n, pause = int(sys.argv[3]), float(sys.argv[4]) if len(sys.argv) > 4 else 0
        for i in range(n):
            if i % 3 == 0:
                c.put_item(TableName=table, Item={"pk": {"S": "new-%04d" % i}, "n": {"N": str(i)},
                                                  "doc": {"M": {"i": {"N": str(i)}}}})
            elif i % 3 == 1:
                c.update_item(TableName=table, Key={"pk": {"S": "item-%06d" % i}},
                              UpdateExpression="SET #a = :v, n = n + :one",
                              ExpressionAttributeNames={"#a": "name"},
                              ExpressionAttributeValues={":v": {"S": "written %d" % i},
                                                         ":one": {"N": "1000"}})
            else:
                c.delete_item(TableName=table, Key={"pk": {"S": "item-%06d" % (i + 300)}})
            if pause:
                time.sleep(pause)
    elif cmd in ("count", "scan-rate"):
        t0, n = time.time(), 0
        for page in c.get_paginator("scan").paginate(TableName=table):
            n += len(page["Items"])
        dt = time.time() - t0
        print(n if cmd == "count" else "%d items in %.2f s: %.0f items/s" % (n, dt, n / dt))
    else:
        sys.exit("unknown command " + cmd)

main()
