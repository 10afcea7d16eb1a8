"""Where a notebook run spends its time: the cells of an executed notebook (papermill records each
cell's duration) sorted by time, with the section each belongs to and its share of the run.

    python benchmarks/where_time_goes.py results/laptop/seed0/02_improved_techniques.ipynb
    python benchmarks/where_time_goes.py results/laptop/seed0/*.ipynb --top 3 --markdown

The section is the last markdown heading above the cell; the cell's first code line says what it runs.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def cell_times(path: Path) -> list[dict]:
    """[{section, code, seconds}] for every executed code cell, in notebook order."""
    nb = json.loads(Path(path).read_text())
    out, section = [], "(start)"
    for cell in nb["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "markdown":
            heads = [line.lstrip("#").strip() for line in src.splitlines() if line.startswith("#")]
            section = heads[-1] if heads else section
            continue
        seconds = (cell.get("metadata", {}).get("papermill") or {}).get("duration")
        if seconds is None:
            continue
        lines = [line for line in src.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        out.append(dict(section=section, code=(lines[0].strip() if lines else "")[:70], seconds=float(seconds)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--top", type=int, default=6, help="cells to list per notebook")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = ap.parse_args(argv)
    if args.markdown:
        print("| notebook | total (s) | section | first line | s | share |\n|---|---|---|---|---|---|")
    for path in args.notebooks:
        cells = cell_times(path)
        if not cells:
            print(f"{path}: no cell durations (not executed by papermill?)")
            continue
        total = sum(c["seconds"] for c in cells)
        for c in sorted(cells, key=lambda c: -c["seconds"])[: args.top]:
            share = c["seconds"] / total if total else 0.0
            if args.markdown:
                print(f"| {path.stem} | {total:.0f} | {c['section']} | `{c['code']}` | {c['seconds']:.0f} | {share:.0%} |")
            else:
                print(f"{path.stem} ({total:.0f} s): {c['seconds']:7.1f} s {share:4.0%}  [{c['section']}]  {c['code']}")


if __name__ == "__main__":
    main()
