#!/usr/bin/env python3
"""Prints the attack-overhead table of docs/performance.md from Google Benchmark JSON.

    build/bench/bench_attacks --benchmark_repetitions=3 --benchmark_enable_random_interleaving \
        --benchmark_report_aggregates_only=true --benchmark_format=json > attacks.json
    python3 bench/ratios.py attacks.json

Every ratio divides two benchmarks of the same run (medians of the repetitions).
"""
import json
import sys


def load(paths):
    times = {}
    for path in paths:
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                # With --benchmark_repetitions, use the median of the repetitions.
                if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                    continue
                unit = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
                name = b.get("run_name", b["name"]).replace("/real_time", "")
                times[name] = b["real_time"] * unit  # ms
    return times


def speed(aten, fused):
    return f"{aten / fused:.2f}x faster" if aten >= fused else f"{fused / aten:.2f}x slower"


def main():
    t = load(sys.argv[1:])
    rows = []
    for arch, name, batch in ((0, "small CNN", 256), (1, "PreAct-ResNet-18", 128),
                              (1, "PreAct-ResNet-18", 512)):
        fb = t.get(f"BM_InputGradient/arch:{arch}/batch:{batch}")
        fwd = t.get(f"BM_Forward/arch:{arch}/batch:{batch}")
        eager = t.get(f"BM_PGD20/arch:{arch}/batch:{batch}/graphs:0")
        pgd = t.get(f"BM_PGD20/arch:{arch}/batch:{batch}/graphs:1")
        if fb and fwd and pgd:
            floor = 20 * fb + fwd
            rows.append((f"PGD-20 per step / fwd+bwd, {name} b{batch}",
                         f"{pgd / 20:.2f} ms / {fb:.2f} ms", f"{pgd / floor:.3f}x (floor 20 fwd+bwd + 1 fwd)"))
        if eager and pgd:
            rows.append((f"PGD-20 eager / CUDA-graph replay, {name} b{batch}",
                         f"{eager / 20:.2f} ms / {pgd / 20:.2f} ms per step", f"{eager / pgd:.2f}x faster"))
        apgd = t.get(f"BM_APGD100/arch:{arch}/batch:{batch}")
        if fb and apgd:
            rows.append((f"APGD-100 per iteration / fwd+bwd, {name} b{batch}",
                         f"{apgd / 100:.2f} ms / {fb:.2f} ms", f"{apgd / (101 * fb):.3f}x (floor 101 fwd+bwd)"))
        cw = t.get(f"BM_CW10/arch:{arch}/batch:{batch}")
        if fb and cw:
            rows.append((f"CW iteration / fwd+bwd, {name} b{batch}",
                         f"{cw / 10:.2f} ms / {fb:.2f} ms", f"{cw / 10 / fb:.3f}x"))
    for batch, dim in ((256, 784), (64, 150528)):
        key = f"BM_APGDUpdate/batch:{batch}/dim:{dim}/fused:"
        aten, fused = t.get(key + "0"), t.get(key + "1")
        if aten and fused:
            rows.append((f"APGD Linf step [{batch}, {dim}], ATen / fused",
                         f"{aten * 1e3:.0f} us / {fused * 1e3:.0f} us", speed(aten, fused)))
    for op in ("Linf", "L2", "CW"):
        for batch, dim in ((256, 784), (128, 3072), (64, 150528)):
            key = f"BM_{op}Update/batch:{batch}/dim:{dim}/fused:"
            aten, fused = t.get(key + "0"), t.get(key + "1")
            if aten and fused:
                rows.append((f"{op} update [{batch}, {dim}], ATen / fused",
                             f"{aten * 1e3:.0f} us / {fused * 1e3:.0f} us", speed(aten, fused)))
    for ball in ("Linf", "L2"):
        for batch, dim in ((256, 784), (64, 150528)):
            key = f"BM_RandomStart/batch:{batch}/dim:{dim}/fused:"
            tail = f"/ball:{0 if ball == 'Linf' else 1}"
            aten, fused = t.get(key + "0" + tail), t.get(key + "1" + tail)
            if aten and fused:
                rows.append((f"{ball} random start [{batch}, {dim}], ATen / fused",
                             f"{aten * 1e3:.0f} us / {fused * 1e3:.0f} us", speed(aten, fused)))
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(width)} | times | ratio |")
    print(f"| {'-' * width} | --- | --- |")
    for r in rows:
        print(f"| {r[0].ljust(width)} | {r[1]} | {r[2]} |")


if __name__ == "__main__":
    main()
