"""The interval audit of tests/suppression_attack.rs, run by tau-argus (pytauargus).

Reads a JSON list of tables from the file named as the first argument; each table is
{"name", "cells": [{"value", "status", "lb", "ub", "lpl", "upl"}], "constraints":
[{"rhs", "terms": [[cell, coefficient], ...]}]}, where a cell's status is "s" (published:
its value is fixed), "u" (suppressed, to protect) or "m" (suppressed, to protect
others, or a variable the attacker does not see). Each table is written in tau-argus's
JJ format, the format tau-argus writes a table in for its own audit, and audited by
tau-argus's audit (the port of its `intervalle` program, solving with HiGHS): for every
suppressed cell, the smallest and the largest value it can take given the published
cells, the constraints and the cells' bounds. Prints a JSON list, one entry per table:
[[cell, min, max, unsafe], ...] for its suppressed cells.
"""

import json
import os
import sys
import tempfile

from pytauargus.engine import audit_jj


def jj(table):
    lines = ["0", str(len(table["cells"]))]
    for i, c in enumerate(table["cells"]):
        lines.append(
            f'{i} {c["value"]} 1 {c["status"]} {c["lb"]} {c["ub"]} '
            f'{c["lpl"]} {c["upl"]} 0'
        )
    lines.append(str(len(table["constraints"])))
    for con in table["constraints"]:
        terms = " ".join(f"{cell} ({coef})" for cell, coef in con["terms"])
        lines.append(f'{con["rhs"]} {len(con["terms"])} : {terms}')
    return "\n".join(lines) + "\n"


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        tables = json.load(f)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "table.jj")
        for table in tables:
            with open(path, "w", encoding="utf-8") as f:
                f.write(jj(table))
            rows = audit_jj(path)
            out.append([[r["cell"], r["min"], r["max"], bool(r["unsafe"])] for r in rows])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
