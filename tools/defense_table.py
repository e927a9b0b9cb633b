#!/usr/bin/env python3
"""Prints the table of docs/defenses.md from the defense evaluations' report.json files.

    tools/defense_table.py reports/defenses ROW [ROW...]

Each ROW names reports/defenses/ROW/report.json (written by `rampart eval
configs/fmnist_defense_eval.yaml`) and, when present, reports/defenses/ROW/train.log (the
output of `rampart train`, whose "time:" lines give the training minutes; a distillation
log holds the teacher's and the student's). Every number comes from those files.
"""
import json
import os
import re
import sys


def percent(value):
    return "-" if value is None else f"{100 * value:.1f}"


def attack(report, attack_id):
    for a in report["attacks"]:
        if a["id"] == attack_id:
            return a
    return None


def training_minutes(path):
    if not os.path.exists(path):
        return "-"
    with open(path) as f:
        minutes = [float(m) for m in re.findall(r"^time:\s+([0-9.]+) minutes", f.read(), re.M)]
    return f"{sum(minutes):.1f}" if minutes else "-"


def main():
    root, rows = sys.argv[1], sys.argv[2:]
    print("| defense | clean | FGSM | PGD-20 | PGD-50 x2 | PGD-50 margin | CW success (median L2) "
          "| worst case | sanity flags | training min |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        with open(os.path.join(root, row, "report.json")) as f:
            r = json.load(f)
        cells = [row, percent(r["clean"]["accuracy"])]
        for attack_id in ("fgsm-linf-0.1", "pgd-linf-0.1", "pgd-linf-0.1-50x2",
                          "pgd-linf-0.1-margin"):
            a = attack(r, attack_id)
            cells.append(percent(a["robust_accuracy"]) if a else "-")
        cw = attack(r, "cw-l2")
        cells.append(f"{percent(cw['success_rate'])} ({cw['l2']['median']:.2f})" if cw else "-")
        cells.append(percent(r["worst_robust_accuracy"]))
        flagged = [c["id"] for c in r["sanity"]["checks"] if c["flagged"]]
        cells.append(", ".join(flagged) if flagged else "none")
        cells.append(training_minutes(os.path.join(root, row, "train.log")))
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
