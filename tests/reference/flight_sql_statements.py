"""Runs SQL statements through Arrow Flight SQL (Python ADBC) against a tickflow-scheduler.

Usage: python flight_sql_statements.py grpc://127.0.0.1:PORT < statements.json
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
    statements = json.load(sys.stdin)
    with flight_sql.connect(uri) as conn:
        for sql in statements:
            try:
                result = run(conn, sql)
            except Exception as e:  # the test reports the statement and the error
                result = {"error": f"{type(e).__name__}: {e}"}
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
