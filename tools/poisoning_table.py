#!/usr/bin/env python3
"""The poisoning table of docs/poisoning.md from the runs of tools/poisoning_run.sh.

    python3 tools/poisoning_table.py [runs/poisoning]

One row per run directory that has an audit (setup.txt, audit/audit.json): the drawn target and
patch, the poisoned model's clean accuracy and attack success rate (ASR), the spectral
detector's verdicts (classes judged poisoned, the target's separation and split start, the
clean classes' range), recall and false positives against the ground truth, and, where the run
retrained, the retrained model's clean accuracy and ASR. Then, per attack and rate, the
acceptance counts: runs whose poisoned class alone was identified, recall >= 99% (>= 95% at 1%),
false positives <= 1% of clean points. Last, the issue's bars as a table, each poisoned run
against its own seed's clean model (the unpoisoned run of the same seed and recipe), with the
runs that miss a bar named; where tools/experiments/oracle_sanitised.sh ran, also the model
retrained without exactly the poisoned points. Reads only what the runs wrote; standard library
only.
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
    oracle = os.path.join(d, "oracle", "eval_clean", "report.json")
    info["clean_oracle"] = json.load(open(oracle))["clean"]["accuracy"] if os.path.exists(oracle) else None
    # The flagged points relabelled instead of dropped (tools/experiments/relabel_run.sh).
    for key, name in (("clean_relabel", "clean"), ("asr_relabel", "triggered")):
        report = os.path.join(d, "relabel", "eval_" + name, "report.json")
        info[key] = json.load(open(report))["clean"]["accuracy"] if os.path.exists(report) else None
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
            near = sum(1 for r in retrained if r["clean_after"] >= clean[epochs] - 0.005 - 1e-9)
            line += f", clean accuracy within 0.5 points of the clean model ({pct(clean[epochs])}) in {near}"
        print(line)
    print_bars(rows)


def bar_cell(results, worst=None):
    """results: (seed, passed, shown value); the count that passed, the misses named."""
    ok = sum(1 for _, passed, _ in results if passed)
    if not results:
        return "-"
    if ok == len(results):
        return f"{ok}" + (f" ({worst})" if worst else "")
    misses = ", ".join(f"s{seed} {value}" for seed, passed, value in results if not passed)
    return f"**{ok}** of {len(results)} ({misses})"


def print_bars(rows):
    clean = {(r["seed"], r["epochs"]): r for r in rows if r["rate"] == 0}
    columns = [("badnets", 0.1), ("badnets", 0.05), ("badnets", 0.01), ("blend", 0.05)]
    runs = {c: sorted((r for r in rows if (r["attack"], r["rate"]) == c), key=lambda r: int(r["seed"]))
            for c in columns}
    if not any(runs.values()):
        return

    def within(gap):
        """A gap of at most half a point: accuracies are counts over the test set, so a gap of
        exactly 0.50 points passes (as a float difference it can land a hair above 0.005)."""
        return gap <= 0.005 + 1e-9

    def clean_gap(r, key):
        c = clean.get((r["seed"], r["epochs"]))
        if c is None or r[key] is None or c["clean_before"] is None:
            return None
        return c["clean_before"] - r[key]

    means = {}
    for r in clean.values():
        if r["clean_before"] is not None:
            means.setdefault(r["epochs"], []).append(r["clean_before"])
    means = {e: sum(v) / len(v) for e, v in means.items()}

    def mean_gap(r):
        return None if r["epochs"] not in means or r["clean_after"] is None else means[r["epochs"]] - r["clean_after"]

    def bar(column, test):
        """The runs of a column that the bar applies to, each with its (seed, passed, value)."""
        out = [(r, test(r)) for r in runs[column]]
        return [(r, x) for r, x in out if x is not None]

    lines = [
        ("poisoned model's ASR >= 99% (the setup)",
         lambda r: None if r["asr_before"] is None else (r["seed"], r["asr_before"] >= 0.99, pct(r["asr_before"]))),
        ("the poisoned class alone identified",
         lambda r: (r["seed"], r["poisoned_classes"] == [r["target"]], str(r["poisoned_classes"]))),
        ("recall >= 99% (>= 95% at 1%)",
         lambda r: None if r["recall"] is None else
         (r["seed"], r["recall"] >= (0.95 if r["rate"] < 0.05 else 0.99), pct(r["recall"]))),
        ("false positives <= 1% of clean points",
         lambda r: None if r["false_positive_rate"] is None else
         (r["seed"], r["false_positive_rate"] <= 0.01, pct(r["false_positive_rate"]))),
        ("retrained ASR <= the seed's clean model's + 1 point",
         lambda r: None if r["asr_after"] is None or r["asr_floor"] is None else
         (r["seed"], r["asr_after"] <= r["asr_floor"] + 0.01, f"+{100 * (r['asr_after'] - r['asr_floor']):.2f}")),
        ("retrained clean accuracy within 0.5 of the seed's clean model",
         lambda r: None if clean_gap(r, "clean_after") is None else
         (r["seed"], within(clean_gap(r, "clean_after")), f"{100 * clean_gap(r, 'clean_after'):.2f}")),
        ("... within 0.5 of the mean clean model (" + ", ".join(pct(m) for m in means.values()) + ")",
         lambda r: None if mean_gap(r) is None else (r["seed"], within(mean_gap(r)), f"{100 * mean_gap(r):.2f}")),
        ("... with the flagged points relabelled instead of dropped (data relabel)",
         lambda r: None if clean_gap(r, "clean_relabel") is None else
         (r["seed"], within(clean_gap(r, "clean_relabel")), f"{100 * clean_gap(r, 'clean_relabel'):.2f}")),
        ("... and its ASR <= the seed's clean model's + 1 point",
         lambda r: None if r["asr_relabel"] is None or r["asr_floor"] is None else
         (r["seed"], r["asr_relabel"] <= r["asr_floor"] + 0.01, f"+{100 * (r['asr_relabel'] - r['asr_floor']):.2f}")),
        ("... a model retrained without exactly the poisons (oracle), within 0.5 of the seed's clean model",
         lambda r: None if clean_gap(r, "clean_oracle") is None else
         (r["seed"], within(clean_gap(r, "clean_oracle")), f"{100 * clean_gap(r, 'clean_oracle'):.2f}")),
    ]
    worst = {
        "recall >= 99% (>= 95% at 1%)": lambda rs: f"min {pct(min(r['recall'] for r in rs))}",
        "false positives <= 1% of clean points": lambda rs: f"max {pct(max(r['false_positive_rate'] for r in rs))}",
    }
    print()
    print("| bar | " + " | ".join(f"{'BadNets' if a == 'badnets' else a} {rate:.0%}" for a, rate in columns) + " |")
    print("| --- |" + " --- |" * len(columns))
    for name, test in lines:
        cells = []
        for c in columns:
            measured = bar(c, test)
            rs = [r for r, _ in measured]
            cells.append(bar_cell([x for _, x in measured], worst[name](rs) if name in worst and rs else None))
        if any(cell != "-" for cell in cells):
            print(f"| {name} | " + " | ".join(cells) + " |")
    none = [r for r in rows if r["rate"] == 0]
    quiet = sum(1 for r in none if not r["poisoned_classes"] and (r["false_positive_rate"] or 0) <= 0.01)
    print(f"\nUnpoisoned: {quiet} of {len(none)} with no class judged poisoned and <= 1% flagged.")


if __name__ == "__main__":
    main()
