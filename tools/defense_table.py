#!/usr/bin/env python3
"""Prints the table of docs/defenses.md from the defense evaluations' report.json files.

    tools/defense_table.py reports/defenses ROW [ROW...] [--autoattack reports/defenses500]

A ROW "jpeg:bpda" is the BPDA twins of the jpeg report; a report with a detector adds a
second table (false positives, detection rate per attack).

Each ROW names reports/defenses/ROW/report.json (written by `rampart eval
configs/fmnist_defense_eval.yaml`) and, when present, reports/defenses/ROW/train.log (the
output of `rampart train`, whose "time:" lines give the training minutes; a distillation
log holds the teacher's and the student's). Every number comes from those files.

With --autoattack DIR, the AutoAttack column comes from DIR/ROW/report.json, an evaluation of
the same config on fewer points (--set data.limit=500: AutoAttack is the slow column on a CPU);
in brackets is the best other bounded attack's robust accuracy on those same points, the
figure AutoAttack must not exceed.
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


def autoattack_cell(report, suffix):
    """AutoAttack's robust accuracy and, in brackets, the lowest robust accuracy of any other
    bounded attack at its budget on the same points."""
    aa = attack(report, "autoattack-linf-0.1" + suffix)
    if not aa:
        return "-"
    # The same variant only: the plain row's others are the attacks without BPDA.
    others = [a["robust_accuracy"] for a in report["attacks"]
              if a["bounded"] and a["id"] != aa["id"]
              and (a["id"].endswith(suffix) if suffix else not a["id"].endswith("-bpda"))
              and a["norm"] == aa["norm"] and a["eps"] == aa["eps"]]
    best = f" ({percent(min(others))})" if others else ""
    return percent(aa["robust_accuracy"]) + best


def detection_table(root, rows):
    """The detector's table: measured false positives and detection rate per attack."""
    lines = []
    for row in rows:
        path = os.path.join(root, row.split(":")[0], "report.json")
        with open(path) as f:
            d = json.load(f).get("detection")
        if not d:
            continue
        if not lines:
            lines.append("| detector | threshold | FPR (calibration / test) | " +
                         " | ".join(a["attack"] for a in d["attacks"]) + " |")
            lines.append("| --- | --- | --- | " + " | ".join("---" for _ in d["attacks"]) + " |")
        lines.append(f"| {d['description']} | {d['threshold']:.3f} | "
                     f"{percent(d['calibration']['fpr'])} / {percent(d['fpr'])} | " +
                     " | ".join(f"{percent(a['detection_rate'])} of {a['successful']}"
                                for a in d["attacks"]) + " |")
    return lines


def main():
    args = sys.argv[1:]
    aa_root = None
    if "--autoattack" in args:
        at = args.index("--autoattack")
        aa_root = args[at + 1]
        del args[at:at + 2]
    root, rows = args[0], args[1:]
    print("| defense | clean | FGSM | PGD-20 | PGD-50 x2 | PGD-50 margin | CW success (median L2) "
          "| AutoAttack, 500 points (best other) | worst case | sanity flags | training min |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        # "jpeg:bpda" is the jpeg report's BPDA twins (attack ids ending in -bpda); "jpeg" alone
        # is the attacks through the transform as it is.
        name, _, variant = row.partition(":")
        suffix = "-bpda" if variant == "bpda" else ""
        with open(os.path.join(root, name, "report.json")) as f:
            r = json.load(f)
        if name == "detector":
            continue  # the same model as "standard"; its numbers are the detection table's
        twins = any(a.get("bpda") for a in r["attacks"])
        cells = [name + (" + BPDA" if suffix else " (no BPDA)" if twins else ""),
                 percent(r["clean"]["accuracy"])]
        for attack_id in ("fgsm-linf-0.1", "pgd-linf-0.1", "pgd-linf-0.1-50x2",
                          "pgd-linf-0.1-margin"):
            a = attack(r, attack_id + suffix)
            cells.append(percent(a["robust_accuracy"]) if a else "-")
        cw = attack(r, "cw-l2" + suffix)
        cells.append(f"{percent(cw['robust_accuracy'])} ({percent(cw['success_rate'])}, "
                     f"{cw['l2']['median']:.2f})" if cw else "-")
        aa_path = os.path.join(aa_root or "", name, "report.json")
        if aa_root and os.path.exists(aa_path):
            with open(aa_path) as f:
                cells.append(autoattack_cell(json.load(f), suffix))
        else:
            cells.append("-")
        # The report's worst case is over every attack at the budget, BPDA twins included.
        cells.append("-" if twins and not suffix else percent(r["worst_robust_accuracy"]))
        flagged = [c["id"] for c in r["sanity"]["checks"] if c["flagged"]]
        cells.append(", ".join(flagged) if flagged else "none")
        cells.append(training_minutes(os.path.join(root, row, "train.log")))
        print("| " + " | ".join(cells) + " |")
    detection = detection_table(root, rows)
    if detection:
        print()
        print("\n".join(detection))


if __name__ == "__main__":
    main()
