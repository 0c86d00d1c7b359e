"""Speed and memory of the attention layers and ops: forward + backward, one step.

Usage: python benchmarks/attention.py [--lengths 1024 4096 16384] [--out benchmarks/attention_cpu]

For every attention kind and length it times a compiled forward+backward step (median of
several runs) and records the peak memory TensorFlow allocates during one step above what was
already live (TensorFlow's own allocator statistics: on CPU they need the BFC allocator, turned on
below). "layer" rows include the Q/K/V/output projections (and the SortNet); "ops" rows time
the attention ops alone on ready-made Q, K, V (Sinkhorn rows still build and balance their
sorting matrix). Ratios are against dense and local attention measured in the same run. Prints
a Markdown table and writes `<out>.md`, `<out>.json` and a PNG plot `<out>.png`.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")  # makes CPU memory statistics available
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sinkhorn_t2t  # noqa: E402,F401  (quiet TensorFlow import)
import tensorflow as tf  # noqa: E402

from sinkhorn_t2t import layers, ops  # noqa: E402

HEADS, HEAD_DIM, BLOCK, STRIDE, SORTCUT_BUDGET, ITERS = 8, 64, 64, 8, 2, 5
KINDS = ("dense", "keras_mha", "local", "sparse_fixed", "sinkhorn", "sinkhorn_causal", "sortcut")
BASELINES = ("dense", "local")
# Dense-score kinds hold a few [H, L, L] float32 tensors; skip them where that cannot fit.
DENSE_SCORE_KINDS = ("dense", "keras_mha", "sparse_fixed")


def make_layer(kind):
    """The layer benchmarked for `kind`; local attention gets 2 * BLOCK keys per query, like Sinkhorn."""
    if kind == "dense":
        return layers.DenseAttention(HEADS, HEAD_DIM)
    if kind == "keras_mha":
        return tf.keras.layers.MultiHeadAttention(HEADS, HEAD_DIM)
    if kind == "local":
        return layers.LocalAttention(HEADS, HEAD_DIM, BLOCK, num_memory_blocks=1)
    if kind == "sparse_fixed":
        return layers.SparseFixedAttention(HEADS, HEAD_DIM, BLOCK, STRIDE)
    if kind == "sortcut":
        return layers.SortCutAttention(HEADS, HEAD_DIM, BLOCK, budget=SORTCUT_BUDGET, sinkhorn_iters=ITERS)
    return layers.SinkhornAttention(HEADS, HEAD_DIM, BLOCK, sinkhorn_iters=ITERS, causal=kind == "sinkhorn_causal")


def layer_step(kind, length):
    """Returns a step function for the whole layer (projections included)."""
    x = tf.random.normal([1, length, HEADS * HEAD_DIM])
    layer = make_layer(kind)

    def call(inputs):
        if kind == "keras_mha":
            return layer(inputs, inputs, training=True)
        return layer(inputs, training=True)

    call(x)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(call(x))
        return tape.gradient(loss, layer.trainable_variables)

    return step


def ops_step(kind, length):
    """Returns a step function running the attention op alone on Q, K, V variables."""
    q, k, v = (tf.Variable(tf.random.normal([1, HEADS, length, HEAD_DIM])) for _ in range(3))
    nb = length // BLOCK
    sort_logits = tf.Variable(tf.random.normal([1, HEADS, nb, nb]))
    seed = tf.keras.random.SeedGenerator(0)
    variables = [q, k, v]

    def attend():
        if kind in ("dense", "keras_mha"):
            return ops.dense_attention(q, k, v)
        if kind == "local":
            return ops.local_attention(q, k, v, BLOCK, num_memory_blocks=1)
        if kind == "sparse_fixed":
            return ops.dense_attention(q, k, v, attention_mask=ops.sparse_fixed_mask(length, BLOCK, STRIDE))
        causal = kind == "sinkhorn_causal"
        perm = tf.exp(ops.gumbel_sinkhorn(sort_logits, 0.75, ITERS, causal=causal, seed=seed))
        if kind == "sortcut":
            return ops.sortcut_attention(q, k, v, perm, BLOCK, SORTCUT_BUDGET)
        return ops.sinkhorn_block_attention(q, k, v, perm, BLOCK, causal=causal)

    if kind in ("sinkhorn", "sinkhorn_causal", "sortcut"):
        variables.append(sort_logits)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(attend())
        return tape.gradient(loss, variables)

    return step


def measure(step, min_runs=3, max_runs=10, budget_s=8.0):
    """Median seconds of a step and peak bytes allocated during one step."""
    step.get_concrete_function()  # trace outside the measurement
    tf.config.experimental.reset_memory_stats("CPU:0")
    before = tf.config.experimental.get_memory_info("CPU:0")["current"]
    first = time.perf_counter()
    tf.nest.map_structure(lambda t: t.numpy(), step())
    first = time.perf_counter() - first
    peak = tf.config.experimental.get_memory_info("CPU:0")["peak"] - before
    runs = max(min_runs, min(max_runs, int(budget_s / max(first, 1e-3))))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), step())
        times.append(time.perf_counter() - start)
    return statistics.median(times), peak


def fits(kind, length, memory_limit_gb):
    if kind not in DENSE_SCORE_KINDS:
        return True
    return 4 * HEADS * length * length * 4 / 2**30 <= memory_limit_gb  # ~4 live [H, L, L] float32 tensors


def run(lengths, memory_limit_gb):
    rows = []
    for mode, builder in (("ops", ops_step), ("layer", layer_step)):
        for length in lengths:
            for kind in KINDS:
                if mode == "ops" and kind == "keras_mha":
                    continue  # same op as dense
                if not fits(kind, length, memory_limit_gb):
                    rows.append(dict(mode=mode, kind=kind, length=length, skipped=True))
                    print(f"  {mode:5s} {kind:16s} L={length:6d}  skipped (does not fit)", flush=True)
                    continue
                seconds, peak = measure(builder(kind, length))
                rows.append(dict(mode=mode, kind=kind, length=length, seconds=seconds, peak_bytes=peak))
                print(f"  {mode:5s} {kind:16s} L={length:6d}  {seconds * 1e3:9.1f} ms  {peak / 2**20:9.1f} MiB",
                      flush=True)
    return rows


def _ratio(value, base):
    return f"{value / base:.3g}x" if base else "-"


def table(rows):
    """Markdown table with ratios against dense and local attention of the same mode and length."""
    index = {(r["mode"], r["kind"], r["length"]): r for r in rows if not r.get("skipped")}
    lines = ["| mode | attention | L | time (ms) | peak mem (MiB) | time / dense | mem / dense | time / local "
             "| time vs L/4 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("skipped"):
            lines.append(f"| {r['mode']} | {r['kind']} | {r['length']} | skipped: does not fit | | | | | |")
            continue
        dense = index.get((r["mode"], "dense", r["length"]))
        local = index.get((r["mode"], "local", r["length"]))
        shorter = index.get((r["mode"], r["kind"], r["length"] // 4))
        lines.append("| {} | {} | {} | {:.1f} | {:.1f} | {} | {} | {} | {} |".format(
            r["mode"], r["kind"], r["length"], r["seconds"] * 1e3, r["peak_bytes"] / 2**20,
            _ratio(r["seconds"], dense and dense["seconds"]), _ratio(r["peak_bytes"], dense and dense["peak_bytes"]),
            _ratio(r["seconds"], local and local["seconds"]), _ratio(r["seconds"], shorter and shorter["seconds"])))
    return "\n".join(lines)


def targets(rows):
    """The issue's targets for Sinkhorn attention, as ratios from this run (None where not measured)."""
    index = {(r["mode"], r["kind"], r["length"]): r for r in rows if not r.get("skipped")}

    def ratio(a, b, key="seconds"):
        return a[key] / b[key] if a and b else None

    lines = []
    for mode in ("ops", "layer"):
        s4, d4 = index.get((mode, "sinkhorn", 4096)), index.get((mode, "dense", 4096))
        s16 = index.get((mode, "sinkhorn", 16384))
        speed_up = ratio(d4, s4)
        checks = [("speed-up over dense at L=4096", speed_up, ">= 15", speed_up is not None and speed_up >= 15)]
        checks = checks if mode == "ops" else []  # the speed target is for the attention ops alone
        checks += [
            ("peak memory / dense at L=4096", ratio(s4, d4, "peak_bytes"), "<= 0.1",
             s4 is not None and d4 is not None and ratio(s4, d4, "peak_bytes") <= 0.1),
            ("time L=16384 / L=4096", ratio(s16, s4), "<= 4.5", s16 is not None and ratio(s16, s4) <= 4.5),
            ("memory L=16384 / L=4096", ratio(s16, s4, "peak_bytes"), "<= 4.5",
             s16 is not None and ratio(s16, s4, "peak_bytes") <= 4.5),
        ]
        for length in sorted({r["length"] for r in rows}):
            r = ratio(index.get((mode, "sinkhorn", length)), index.get((mode, "local", length)))
            checks.append((f"time / local (2 x {BLOCK} keys) at L={length}", r, "<= 1.3", r is not None and r <= 1.3))
        for name, value, target, ok in checks:
            shown = "not measured" if value is None else f"{value:.3g}"
            lines.append(f"| {mode} | {name} | {shown} | {target} | {'met' if ok else 'MISSED'} |")
    return "| mode | Sinkhorn target | measured | target | |\n|---|---|---|---|---|\n" + "\n".join(lines)


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    for col, mode in enumerate(("ops", "layer")):
        for row, (key, label, scale) in enumerate((("seconds", "time per step (ms)", 1e3),
                                                   ("peak_bytes", "peak memory (MiB)", 2**-20))):
            ax = axes[row][col]
            for kind in KINDS:
                pts = [(r["length"], r[key] * scale) for r in rows
                       if r["mode"] == mode and r["kind"] == kind and not r.get("skipped")]
                if pts:
                    ax.plot(*zip(*pts), marker="o", label=kind, color=f"C{KINDS.index(kind)}")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("sequence length L")
            ax.set_ylabel(label)
            ax.set_title(f"{mode}: forward + backward, batch 1, {HEADS}x{HEAD_DIM}, block {BLOCK}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384])
    parser.add_argument("--memory_limit_gb", type=float, default=12.0,
                        help="skip dense-score kinds whose score tensors would exceed this")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "attention_cpu"))
    args = parser.parse_args(argv)
    for length in args.lengths:
        if length < SORTCUT_BUDGET * BLOCK or length % BLOCK:
            parser.error(f"--lengths: every length must be a multiple of the block size {BLOCK} and at least "
                         f"{SORTCUT_BUDGET * BLOCK} (the SortCut budget), got {length}")
    device = tf.config.list_logical_devices("GPU")
    where = device[0].name if device else f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})"
    print(f"Attention benchmark on {where}; TF {tf.__version__}", flush=True)
    rows = run(args.lengths, args.memory_limit_gb)
    text = table(rows) + "\n\n" + targets(rows)
    print("\n" + text)
    header = (f"Forward + backward, batch 1, {HEADS} heads x {HEAD_DIM}, block {BLOCK}, float32, {where}, "
              f"TF {tf.__version__}. Local attention: own block + previous block (2 x {BLOCK} keys per query).\n\n")
    with open(args.out + ".md", "w") as f:
        f.write(header + text + "\n")
    with open(args.out + ".json", "w") as f:
        json.dump(dict(device=where, rows=rows), f, indent=1)
    plot(rows, args.out + ".png")
    print(f"\nwrote {args.out}.md, {args.out}.json, {args.out}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
