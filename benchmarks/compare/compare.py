#!/usr/bin/env python3
"""Runs benchmarks/README.md's workloads for tapegrad and libtorch alternately, each in a process of
its own, several runs, and prints one table (scripts/bench --compare calls this)."""
import argparse
import datetime
import os
import platform
import re
import subprocess
import sys

OPENMP_BLAS = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
# benchmarks/README.md's tuning: glibc keeps freed memory instead of unmapping it every
# iteration. Both sides run with it, so neither is charged page faults the other is spared.
GLIBC_TUNABLES = "glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824"


def side_env(side, threads):
    env = dict(os.environ)
    side = "tapegrad" if side == "baseline" else side
    env.update(OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads), GLIBC_TUNABLES=GLIBC_TUNABLES)
    if side == "libtorch" and os.path.isdir(OPENMP_BLAS):
        # libtorch's OpenMP pool and a pthread OpenBLAS pool would fight over the cores: give
        # libtorch the OpenMP build of OpenBLAS (libopenblas0-openmp), as benchmarks/README.md
        # tunes it.
        env["LD_LIBRARY_PATH"] = OPENMP_BLAS + ":" + env.get("LD_LIBRARY_PATH", "")
    return env


def parse(line):
    return dict(field.split("=", 1) for field in line.split()[1:])


def listing(program):
    out = subprocess.run([program, "--list"], check=True, capture_output=True, text=True).stdout
    return [line.split("\t", 1) for line in out.splitlines() if line]


def span(values, fmt="{:.2f}"):
    lo, hi = min(values), max(values)
    return fmt.format(lo) if fmt.format(lo) == fmt.format(hi) else fmt.format(lo) + "-" + fmt.format(hi)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build", help="the build folder holding benchmarks/compare/")
    ap.add_argument("--workloads", default="", help="comma-separated ids (default: all of them)")
    ap.add_argument("--runs", type=int, default=3, help="alternating runs of every workload (default 3)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per process; the median is kept (default 3)")
    ap.add_argument("--iters", type=int, default=30, help="timed iterations per round (default 30)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed iterations first (default 5)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both sides (default 2)")
    ap.add_argument("--baseline", default="", metavar="BUILD",
                    help="also run the tapegrad side of another build folder (an earlier commit's), "
                         "alternating with this one: a change's speed before and after, in one run")
    args = ap.parse_args()

    programs = {side: os.path.join(args.build, "benchmarks", "compare", "compare_" + side)
                for side in ("tapegrad", "libtorch")}
    if args.baseline:
        programs["baseline"] = os.path.join(args.baseline, "benchmarks", "compare", "compare_tapegrad")
        if not os.access(programs["baseline"], os.X_OK):
            sys.exit(f"compare: {programs['baseline']} is not built")
    sides = [side for side, program in programs.items() if os.access(program, os.X_OK)]
    if "tapegrad" not in sides:
        sys.exit(f"compare: {programs['tapegrad']} is not built")
    if "libtorch" not in sides:
        print("compare: compare_libtorch is not built (scripts/bench --compare --install builds it); "
              "tapegrad's side only", file=sys.stderr)
    described = {}
    for side in sides:
        for wid, description in listing(programs[side]):
            described.setdefault(wid, description)
    wanted = [w for w in args.workloads.split(",") if w] or list(described)
    unknown = [w for w in wanted if w not in described]
    if unknown:
        sys.exit("compare: unknown workload(s) " + ", ".join(unknown) + "; known: " + ", ".join(described))

    load_before = os.getloadavg()
    results = {}  # (side, id) -> list of parsed lines, one per run
    sgemm = {}    # (side, threads, n) -> list of GFLOP/s
    mlp_gemms = {}  # W3 id -> ms of its eight GEMMs alone, raw, per run
    for run in range(args.runs):
        order = sides if run % 2 == 0 else sides[::-1]  # neither side always goes first
        for wid in wanted:
            for side in order:
                program = programs[side]
                if wid not in dict(listing(program)):
                    continue
                cmd = [program, "--workload", wid, "--warmup", str(args.warmup), "--iters", str(args.iters),
                       "--rounds", str(args.rounds)]
                proc = subprocess.run(cmd, capture_output=True, text=True, env=side_env(side, args.threads))
                lines = [l for l in proc.stdout.splitlines() if l.startswith("result ")]
                if proc.returncode != 0 or not lines:
                    sys.exit(f"compare: {' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")
                results.setdefault((side, wid), []).append(parse(lines[-1]))
                print(f"run {run + 1}/{args.runs} {side:8s} {wid:10s} {lines[-1]}", file=sys.stderr)
        for threads in sorted({1, args.threads}):
            out = subprocess.run([programs["tapegrad"], "--sgemm", "--threads", str(threads)], check=True,
                                 capture_output=True, text=True, env=side_env("tapegrad", threads)).stdout
            for line in out.splitlines():
                if line.startswith("sgemm "):
                    fields = parse(line)
                    sgemm.setdefault((int(fields["threads"]), int(fields["n"])), []).append(float(fields["gflops"]))
                    sgemm.setdefault("core", fields["blas_core"])
        for wid in wanted:  # W3's own GEMMs, raw: the ceiling that shape can reach
            m = re.fullmatch(r"W3-(\d+)", wid)
            if m:
                out = subprocess.run([programs["tapegrad"], "--sgemm-mlp", m.group(1), "--threads", str(args.threads)],
                                     check=True, capture_output=True, text=True,
                                     env=side_env("tapegrad", args.threads)).stdout
                for line in out.splitlines():
                    if line.startswith("sgemm_mlp "):
                        mlp_gemms.setdefault(wid, []).append(float(parse(line)["median_ms"]))
    load_after = os.getloadavg()

    print(f"## Side by side, {datetime.date.today().isoformat()}: {cpu_model()}, {os.cpu_count()} cores")
    print()
    cores = {side: results[(side, wanted[0])][0]["blas_core"] for side in sides if (side, wanted[0]) in results}
    threads = {side: results[(side, wanted[0])][0]["threads"] for side in sides if (side, wanted[0]) in results}
    print(f"{args.runs} runs, each the median of {args.rounds} rounds of {args.iters} iterations after "
          f"{args.warmup} warm-up; " + "; ".join(f"{s}: {threads[s]} threads, OpenBLAS core {cores[s]}" for s in cores)
          + f"; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after.")
    print()
    header = "| workload | tapegrad fwd / bwd ms | bwd/fwd |"
    rule = "|---|---|---|"
    if "baseline" in sides:
        header += " baseline fwd / bwd ms | this / baseline fwd+bwd |"
        rule += "---|---|"
    if "libtorch" in sides:
        header += " libtorch fwd / bwd ms | bwd/fwd | speed-up | peak RSS above start, MiB (tapegrad / libtorch) |"
        rule += "---|---|---|---|"
    else:
        header += " peak RSS above start, MiB |"
        rule += "---|"
    print(header)
    print(rule)
    for wid in wanted:
        row = [f"{wid} {described[wid]}"]
        per_side = {}
        for side in sides:
            runs = results.get((side, wid))
            if not runs:
                continue
            fwd = [float(r["fwd_ms"]) for r in runs]
            bwd = [float(r["bwd_ms"]) for r in runs]
            rss = [float(r["peak_rss_mib"]) - float(r["baseline_rss_mib"]) for r in runs]
            per_side[side] = (fwd, bwd, rss)
        for side in [s for s in sides if s != "baseline"]:
            if side in per_side:
                fwd, bwd, _ = per_side[side]
                row += [f"{span(fwd)} / {span(bwd)}", span([b / f for f, b in zip(fwd, bwd)])]
            else:
                row += ["-", "-"]
            if side == "tapegrad" and "baseline" in sides:
                if "baseline" in per_side and "tapegrad" in per_side:
                    b, t = per_side["baseline"], per_side["tapegrad"]
                    ratios = [(tf + tb) / (bf + bb) for tf, tb, bf, bb in zip(t[0], t[1], b[0], b[1])]
                    row += [f"{span(b[0])} / {span(b[1])}", span(ratios)]
                else:
                    row += ["-", "-"]
        if "libtorch" in sides:
            if "tapegrad" in per_side and "libtorch" in per_side:
                t, l = per_side["tapegrad"], per_side["libtorch"]
                speedups = [(lf + lb) / (tf + tb) for tf, tb, lf, lb in zip(t[0], t[1], l[0], l[1])]
                row.append(span(speedups) + "x")
                row.append(f"{span(t[2], '{:.1f}')} / {span(l[2], '{:.1f}')}")
            else:
                row += ["-", "-"]
        else:
            row.append(span(per_side["tapegrad"][2], "{:.1f}") if "tapegrad" in per_side else "-")
        print("| " + " | ".join(row) + " |")
    print()
    core = sgemm.pop("core", "?")
    for threads_used in sorted({t for t, _ in sgemm}):
        cells = [f"n={n}: {span(v, '{:.0f}')}" for (t, n), v in sorted(sgemm.items()) if t == threads_used]
        print(f"W7 raw cblas_sgemm GFLOP/s, {threads_used} thread(s), OpenBLAS core {core}: " + ", ".join(cells))
    ceiling_efficiency(wanted, results, sides, sgemm, args.threads)
    for wid, raw in mlp_gemms.items():
        cells = []
        for side in sides:
            runs = results.get((side, wid))
            if runs:
                shares = [100 * min(raw) / (float(r["fwd_ms"]) + float(r["bwd_ms"])) for r in runs]
                cells.append(f"{side} at {span(shares, '{:.0f}')} %")
        print(f"{wid}: its eight GEMMs alone, raw cblas_sgemm ({args.threads} threads): {span(raw)} ms per step; "
              + ", ".join(cells) + " of that rate (whole step, everything included)")


def ceiling_efficiency(wanted, results, sides, sgemm, threads):
    """W3's GEMM work per second (forward + backward, the first layer has no input gradient) as a
    share of the best raw sgemm rate at the same thread count in this run (the goal for W3 in
    benchmarks/README.md)."""
    ceilings = [max(v) for (t, n), v in sgemm.items() if t == threads]
    if not ceilings:
        return
    ceiling = max(ceilings)
    for wid in wanted:
        m = re.fullmatch(r"W3-(\d+)", wid)
        if not m:
            continue
        batch = int(m.group(1))
        fwd_flop = 2 * batch * (784 * 512 + 512 * 512 + 512 * 10)
        step_flop = fwd_flop + 2 * fwd_flop - 2 * batch * 784 * 512
        cells = []
        for side in sides:
            runs = results.get((side, wid))
            if runs:
                rates = [step_flop / ((float(r["fwd_ms"]) + float(r["bwd_ms"])) * 1e6) for r in runs]
                cells.append(f"{side} {span(rates, '{:.0f}')} GFLOP/s = {span([100 * r / ceiling for r in rates], '{:.0f}')} %")
        print(f"{wid}: " + ", ".join(cells) + f" of the best {threads}-thread sgemm rate ({ceiling:.0f} GFLOP/s)")


if __name__ == "__main__":
    main()
