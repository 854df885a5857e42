"""Merges the Python and Node result tables into one, case by case.

    python3 merge_tables.py results-python.md results-node.md

Each input is what a runner writes with CONFORMANCE_MARKDOWN=FILE: a summary
line, then `| case | expected | observed | result |` rows.
"""

from __future__ import annotations

import sys


def read(path: str) -> tuple[str, dict[str, tuple[str, str, str]]]:
    lines = open(path, encoding="utf-8").read().splitlines()
    rows = {}
    for line in lines[4:]:
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) == 4:
            rows[cells[0]] = (cells[1], cells[2], cells[3])
    return lines[0], rows


def main() -> None:
    (py_summary, py), (node_summary, node) = read(sys.argv[1]), read(sys.argv[2])
    print(f"- {py_summary}\n- {node_summary}\n")
    print("| case | expected | Python websockets | Node ws |")
    print("|---|---|---|---|")
    # Node order first (the shared cases), then the cases only Python runs.
    for name in list(node) + [n for n in py if n not in node]:
        expected = (py.get(name) or node.get(name))[0]
        cells = []
        for table in (py, node):
            if name in table:
                _, seen, result = table[name]
                cells.append(f"{result}: {seen}" if seen else result)
            else:
                cells.append("n/a")
        print(f"| {name} | {expected} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
