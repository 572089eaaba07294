"""Runs SQL statements through Arrow Flight SQL (Python ADBC) against a tickflow-scheduler.

Usage: python flight_sql_statements.py grpc://127.0.0.1:PORT [AUTHORIZATION] < statements.json
AUTHORIZATION, when given, is sent as the `authorization` header of every call (ADBC's
`adbc.flight.sql.authorization_header`), e.g. "Bearer TOKEN"; or, written `password=TOKEN`, the
connection authenticates with the Flight handshake (ADBC's `username` / `password`) and gets a
session of its own, as a scheduler started with --auth-token-file requires.
The input is a JSON list of SQL statements, run in order in one connection. For each statement
one JSON object is printed on stdout: {"schema": HEX, "rows": [[str, ...], ...]}, where HEX is
the Arrow IPC encoding of the result's schema as the client received it (so the Rust test can
compare types exactly), or {"error": MESSAGE} when the statement failed, so that one failing
statement does not hide the answers to the others.
"""
import json
import sys

import adbc_driver_flightsql.dbapi as flight_sql


def run(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        table = cur.fetch_arrow_table()
    rows = [[str(v) for v in row.values()] for row in table.to_pylist()]
    return {"schema": table.schema.serialize().to_pybytes().hex(), "rows": rows}


def main() -> None:
    uri = sys.argv[1]
    db_kwargs = {}
    if len(sys.argv) > 2:
        if sys.argv[2].startswith("password="):
            db_kwargs["username"] = "tickflow"
            db_kwargs["password"] = sys.argv[2][len("password="):]
        else:
            db_kwargs["adbc.flight.sql.authorization_header"] = sys.argv[2]
    statements = json.load(sys.stdin)
    try:
        conn = flight_sql.connect(uri, db_kwargs=db_kwargs)
    except Exception as e:  # a refused connection: every statement reports it
        for _ in statements:
            print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
        return
    with conn:
        for sql in statements:
            try:
                result = run(conn, sql)
            except Exception as e:  # the test reports the statement and the error
                result = {"error": f"{type(e).__name__}: {e}"}
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
