"""Did a change move any number? Compare two run folders (``gancourse run`` output, e.g. the smoke
profile before and after a refactor) results file by results file: every claim (value, draws, sd,
verdict) and every number in ``extra`` must be identical, bit for bit. Excused, because they measure
the clock: dates, commits, wall times and training seconds; in notebook 04, when runs from before rows
stopped on images are compared (the laptop profile stopped them at 80 s), every row that stopped on its
time budget in either run, then P3 (the lowest SWD over all rows, the fixed-size one included), the
equal-time comparison (P4, P5, the SWD curves), and P6 when a Table-1 row stopped on time; and any claim declared
machine-dependent (a wall-clock ratio). The machine's description, its CPU kind and how the run shared its
cores are not numbers of the run; declared metadata (a claim's kind, shared runs, the paper's value) is
named, not compared. Also excused, and counted: provenance strings that differ
only in a bracketed file path or file name ("... [/path/of/this/checkout/mnist_5k.csv.gz]", an extractor's
cache file); anything else in brackets (a number, a word) still counts.

    python tests/reference/same_numbers.py /tmp/before/smoke /tmp/after/smoke

Exit status 0 when nothing moved; otherwise every path that differs is printed and the status is 1.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

CLOCK_KEYS = {"date", "commit", "wall_time_s", "seconds", "time", "versions", "timing", "machine", "cpu_kind",
              "threads"}                        # the machine and how its cores were shared, not a number of the run
METADATA = {"kind", "shares_run", "machine_dependent", "paper_value", "claims_selected"}   # declared, not measured
EQUAL_TIME_ROW = "at fixed size"        # notebook 04's fixed-size row: trained for the progressive run's time
TIME_BUDGET = {"04_pggan_swd": {"if_any_row_timed": {"P3", "P4", "P5"},   # P3: the lowest SWD over every row,
                                "extra_if_any_row_timed": {"curves"},      # fixed size too; P4, P5: the
                                "if_table_row_timed": {"P6"}}}             # equal-time pair; P6: (g) / (a)


PROVENANCE = "provenance: "          # how differences() marks a string that differs only inside [...]


def _bracketless(text: str) -> str:
    """The string with every bracketed file path or file name ("[/a/b.csv.gz]", "[cnn-5bbd07.pt]") blanked."""
    return re.sub(r"\[(?:[^\]\s]*/[^\]]*|[\w.-]+\.[A-Za-z][\w.]*)\]", "[…]", text)


def _clock(key) -> bool:
    return key in CLOCK_KEYS or str(key).endswith("_seconds")


def _timed_rows(res: dict) -> set[str]:
    rows = res.get("extra", {}).get("rows", {})
    return {k for k, r in rows.items() if isinstance(r, dict) and r.get("stopped_by") == "time"}


def differences(a, b, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if _clock(k):
                continue
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'the second' if k not in a else 'the first'}")
            else:
                out += differences(a[k], b[k], f"{path}/{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items vs {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    if isinstance(a, str) and isinstance(b, str) and a != b and _bracketless(a) == _bracketless(b):
        return [f"{PROVENANCE}{path}"]
    return [] if a == b or (a != a and b != b) else [f"{path}: {a!r} → {b!r}"]     # NaN equals NaN here


def compare(before: Path, after: Path) -> tuple[list[str], list[str]]:
    """(differences, notes): what moved, and what was compared or excused."""
    diffs, notes = [], []
    names = sorted({p.parent.name for d in (before, after) for p in d.glob("*/results.json")})
    for name in names:
        pa, pb = before / name / "results.json", after / name / "results.json"
        if not (pa.exists() and pb.exists()):
            diffs.append(f"{name}: results.json only in {before if pa.exists() else after}")
            continue
        a, b = json.loads(pa.read_text()), json.loads(pb.read_text())
        rule = TIME_BUDGET.get(name, {})
        skip_claims, skip_extra = set(), set()
        timed = _timed_rows(a) | _timed_rows(b)                  # rows stopped by their time budget: excused
        if rule and timed:
            skip_claims |= rule["if_any_row_timed"]
            skip_extra |= rule["extra_if_any_row_timed"]
        if rule and any(EQUAL_TIME_ROW not in r for r in timed):  # a Table-1 row on the clock: its claims too
            skip_claims |= rule["if_table_row_timed"]
        for res in (a, b):
            if timed and "rows" in res.get("extra", {}):
                res["extra"]["rows"] = {k: v for k, v in res["extra"]["rows"].items() if k not in timed}
        clocked = {c["id"] for res in (a, b) for c in res["claims"] if c.get("machine_dependent")}   # wall-clock claims
        skip_claims |= clocked
        meta = sorted({k for res in (a, b) for c in res["claims"] for k in METADATA & set(c)}
                      | {k for res in (a, b) for k in METADATA & set(res)})
        ca = {c["id"]: {k: v for k, v in c.items() if k not in METADATA} for c in a["claims"] if c["id"] not in skip_claims}
        cb = {c["id"]: {k: v for k, v in c.items() if k not in METADATA} for c in b["claims"] if c["id"] not in skip_claims}
        found = differences(ca, cb, f"{name}/claims")
        found += differences({k: v for k, v in a.get("extra", {}).items() if k not in skip_extra},
                             {k: v for k, v in b.get("extra", {}).items() if k not in skip_extra}, f"{name}/extra")
        found += differences({k: v for k, v in a.items() if k not in ("claims", "extra", *METADATA)},
                             {k: v for k, v in b.items() if k not in ("claims", "extra", *METADATA)}, name)
        provenance = [d for d in found if d.startswith(PROVENANCE)]
        found = [d for d in found if not d.startswith(PROVENANCE)]
        diffs += found
        excused = (f"; excused (time budget): claims {sorted(skip_claims)}, extra {sorted(skip_extra)}, "
                   f"rows {sorted(timed)}") if rule else ""
        if clocked:
            excused += f"; machine-dependent claims excused: {sorted(clocked)}"
        if meta:
            excused += f"; declared metadata not compared: {', '.join(meta)}"
        if provenance:
            excused += f"; {len(provenance)} provenance strings differ only in their [path or cache name]"
        notes.append(f"{name}: {len(ca)} claims compared, {'identical' if not found else f'{len(found)} differences'}{excused}")
    return diffs, notes


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    args = ap.parse_args(argv)
    diffs, notes = compare(args.before, args.after)
    print("\n".join(notes))
    if diffs:
        print(f"\n{len(diffs)} numbers moved:\n" + "\n".join(diffs))
        return 1
    print("\nevery number identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
