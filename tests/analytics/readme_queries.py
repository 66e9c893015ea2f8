#!/usr/bin/env python3
"""Runs the README's analytics queries in DuckDB over an analytics export.

    python3 tests/analytics/readme_queries.py EXPORT_DIR README.md

Takes the ```sql blocks of the README's "SQL over all history" section: the one that creates the
views, then every query. Prints JSON, one entry per query: its columns and rows.
"""

import json
import os
import re
import sys

import duckdb


def main():
    export, readme = sys.argv[1], os.path.abspath(sys.argv[2])
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    section = text.split("## SQL over all history", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, re.S)
    views = [b for b in blocks if "CREATE VIEW" in b]
    queries = [b for b in blocks if "CREATE VIEW" not in b]
    if len(views) != 1 or not queries:
        raise SystemExit(f"expected one block of views and some queries, found {len(blocks)} blocks")
    os.chdir(export)
    con = duckdb.connect()
    for statement in views[0].split(";"):
        if statement.strip():
            con.execute(statement)
    out = []
    for query in queries:
        cursor = con.execute(query)
        out.append({
            "query": query,
            "columns": [d[0] for d in cursor.description],
            "rows": [list(row) for row in cursor.fetchall()],
        })
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
