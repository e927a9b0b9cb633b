#!/usr/bin/env python3
"""The poisoning table of docs/poisoning.md from the runs of tools/poisoning_run.sh.

    python3 tools/poisoning_table.py [runs/poisoning]

One row per run directory that has an audit (setup.txt, audit/audit.json): the drawn target and
patch, the poisoned model's clean accuracy and attack success rate (ASR), the spectral
detector's verdicts (classes judged poisoned, the target's separation and split start, the
clean classes' range), recall and false positives against the ground truth, and, where the run
retrained, the retrained model's clean accuracy and ASR. Then, per attack and rate, the
acceptance counts: runs whose poisoned class alone was identified, recall >= 99% (>= 95% at 1%),
false positives <= 1% of clean points. Reads only what the runs wrote; standard library only.
"""
import json
import os
import sys


def read_accuracies(path):
    """asr_*.txt: lines 'triggered 0.99' / 'clean 0.90' (or '<model> <set> <acc>')."""
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path):
        parts = line.split()
        if len(parts) >= 2:
            out[" ".join(parts[:-1])] = float(parts[-1])
    return out


def run_row(d):
    setup = open(os.path.join(d, "setup.txt")).read().split()
    # "seed S rate R attack A target T patch (r, c) epochs E [pattern P]"
    def field(key, default):
        return setup[setup.index(key) + 1] if key in setup else default
    info = {"dir": os.path.basename(d), "seed": setup[1], "rate": float(setup[3]), "attack": setup[5],
            "target": int(setup[7]), "epochs": field("epochs", "3"), "pattern": field("pattern", "solid")}
    audit = json.load(open(os.path.join(d, "audit", "audit.json")))
    spectral = next(x for x in audit["detectors"] if x["name"] == "spectral")
    classes = spectral["classes"]
    info["poisoned_classes"] = [c["label"] for c in classes if c.get("poisoned")]
    target = next((c for c in classes if c["label"] == info["target"]), None)
    info["target_separation"] = target["separation"] if target else None
    info["target_start"] = target.get("split_start", "") if target else ""
    others = [c["separation"] for c in classes if c["label"] != info["target"]]
    info["others"] = (min(others), max(others)) if others else None
    truth = audit.get("against_ground_truth") or {}
    info["recall"] = truth.get("recall")
    info["true_positives"] = truth.get("true_positives")
    info["poisoned"] = truth.get("poisoned", 0)
    info["false_positives"] = truth.get("false_positives", audit.get("flagged_count"))
    info["false_positive_rate"] = truth.get("false_positive_rate")
    before = read_accuracies(os.path.join(d, "asr_before.txt"))
    after = read_accuracies(os.path.join(d, "asr_after.txt"))
    info["clean_before"], info["asr_before"] = before.get("clean"), before.get("triggered")
    info["clean_after"] = after.get("clean", after.get("retrained clean"))
    info["asr_after"] = after.get("triggered", after.get("retrained triggered"))
    info["asr_floor"] = read_accuracies(os.path.join(d, "asr_floor.txt")).get("triggered")
    return info


def pct(x, digits=2):
    return "-" if x is None else f"{100 * x:.{digits}f}%"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "runs/poisoning"
    rows = []
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        if os.path.exists(os.path.join(d, "setup.txt")) and os.path.exists(os.path.join(d, "audit", "audit.json")):
            rows.append(run_row(d))
    print("| run | epochs, pattern | target | poisoned model: clean / ASR | classes judged poisoned | "
          "target: separation (start) | clean classes | recall | false positives | retrained: clean / ASR (floor) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        sep = "-" if r["target_separation"] is None else f"{r['target_separation']:.2f} ({r['target_start']})"
        others = "-" if r["others"] is None else f"{r['others'][0]:.1f} to {r['others'][1]:.1f}"
        recall = "-" if not r["poisoned"] else f"{r['true_positives']} of {r['poisoned']} ({pct(r['recall'])})"
        print(f"| {r['dir']} | {r['epochs']}, {r['pattern']} | {r['target'] if r['poisoned'] else '(none)'} | "
              f"{pct(r['clean_before'])} / {pct(r['asr_before'])} | {r['poisoned_classes'] or 'none'} | {sep} | "
              f"{others} | {recall} | {r['false_positives']} | {pct(r['clean_after'])} / {pct(r['asr_after'])} "
              f"({pct(r['asr_floor'])}) |")
    # The clean model of each recipe: the unpoisoned runs' mean clean accuracy.
    clean = {}
    for r in rows:
        if r["rate"] == 0 and r["clean_before"] is not None:
            clean.setdefault(r["epochs"], []).append(r["clean_before"])
    clean = {e: sum(v) / len(v) for e, v in clean.items()}
    groups = {}
    for r in rows:
        groups.setdefault((r["attack"], r["rate"], r["epochs"], r["pattern"]), []).append(r)
    print()
    for (attack, rate, epochs, pattern), rs in sorted(groups.items()):
        name = f"{attack} {rate:g} ({epochs} epochs, {pattern})"
        if rate == 0:
            ok = sum(1 for r in rs if not r["poisoned_classes"] and (r["false_positive_rate"] or 0) <= 0.01)
            print(f"{name}: {ok} of {len(rs)} runs with no class judged poisoned and <= 1% flagged")
            continue
        need = 0.95 if rate < 0.05 else 0.99
        ident = sum(1 for r in rs if r["poisoned_classes"] == [r["target"]])
        rec = sum(1 for r in rs if (r["recall"] or 0) >= need)
        fp = sum(1 for r in rs if (r["false_positive_rate"] or 0) <= 0.01)
        planted = sum(1 for r in rs if (r["asr_before"] or 0) >= 0.99)
        retrained = [r for r in rs if r["asr_after"] is not None and r["asr_floor"] is not None]
        gone = sum(1 for r in retrained if r["asr_after"] <= r["asr_floor"] + 0.01)
        line = (f"{name}: {len(rs)} runs; ASR before >= 99% in {planted}; target alone identified in {ident}, "
                f"recall >= {need:.0%} in {rec}, false positives <= 1% in {fp}; retrained with a clean floor: "
                f"{len(retrained)}, ASR <= floor + 1 point in {gone}")
        if epochs in clean:
            near = sum(1 for r in retrained if r["clean_after"] >= clean[epochs] - 0.005)
            line += f", clean accuracy within 0.5 points of the clean model ({pct(clean[epochs])}) in {near}"
        print(line)

if __name__ == "__main__":
    main()
