"""Speed and memory of the attention layers and ops: forward + backward, one step.

Usage: python benchmarks/attention.py [--lengths 1024 4096 16384] [--out benchmarks/attention_cpu]

For every attention kind and length it times a forward+backward step in a `tf.function` (median
of several runs), once as TensorFlow graph and once compiled by XLA (`jit_compile=True`); the steps
of one length take turns during the measurement, so the machine's speed drifts alike for all, and
records the peak memory TensorFlow allocates during one step above what was already live
(TensorFlow's own allocator statistics: on CPU they need the BFC allocator, turned on below).
"layer" rows include the Q/K/V/output projections (and the SortNet); the "projections" row is
those four projections alone (plain matmuls, no attention), the floor any attention layer pays.
"ops" rows time the attention ops alone on ready-made Q, K, V (Sinkhorn rows still build and
balance their sorting matrix); the "block_matmul" row is the batched per-block score matmul
alone. FLOPs are the forward matmul FLOPs (2 per multiply-add); GFLOP/s counts a step as 3x
them. Ratios are against rows measured in the same run. Prints a Markdown table and writes
`<out>.md`, `<out>.json` and a PNG plot `<out>.png`.
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
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from sinkhorn_t2t import layers, ops  # noqa: E402

HEADS, HEAD_DIM, BLOCK, STRIDE, SORTCUT_BUDGET, ITERS = 8, 64, 64, 8, 2, 5
KINDS = ("projections", "block_matmul", "dense", "keras_mha", "local", "sparse_fixed", "sinkhorn", "sinkhorn_causal",
         "sortcut")
LAYER_ONLY, OPS_ONLY = ("projections", "keras_mha"), ("block_matmul",)
SORTING_KINDS = ("sinkhorn", "sinkhorn_causal", "sortcut")
MODEL_DIM = HEADS * HEAD_DIM


def attention_flops(kind, length):
    """Forward matmul FLOPs of the attention op of `kind` (projections excluded)."""
    nb, keys = length // BLOCK, {"dense": length, "keras_mha": length, "local": 2 * BLOCK,
                                 "sparse_fixed": BLOCK + length // BLOCK * STRIDE, "sinkhorn": 2 * BLOCK,
                                 "sinkhorn_causal": 2 * BLOCK, "sortcut": SORTCUT_BUDGET * BLOCK}.get(kind, 0)
    if kind == "block_matmul":
        return 2 * HEADS * length * 2 * BLOCK * HEAD_DIM
    flops = 4 * HEADS * length * keys * HEAD_DIM  # scores and weighted values
    if kind in SORTING_KINDS:
        rows = SORTCUT_BUDGET if kind == "sortcut" else nb
        flops += 2 * 2 * HEADS * rows * nb * BLOCK * HEAD_DIM  # sorting K and V
        flops += 2 * HEADS * nb * MODEL_DIM * nb  # SortNet
    return flops


def projection_flops(length):
    return 4 * 2 * length * MODEL_DIM * MODEL_DIM


def score_bytes(kind, length):
    """Rough float32 bytes of the biggest score-sized tensors a step keeps (4 live copies)."""
    keys = {"dense": length, "keras_mha": length, "sparse_fixed": BLOCK + length // BLOCK * STRIDE}.get(kind)
    return None if keys is None else 4 * HEADS * length * keys * 4


class Projections(keras.layers.Layer):
    """The four projections of a self-attention layer alone: `out(query(x) * key(x) + value(x))`.

    The product keeps the three weight gradients apart, as attention does: with a plain sum
    `query(x) + key(x) + value(x)` all three are the same `x^T dS`, which TensorFlow's graph
    optimizer computes once, so the row would leave out two of the step's nine matmuls."""

    def build(self, input_shape):
        def dense(equation, shape, bias_axes, build_shape):
            layer = keras.layers.EinsumDense(equation, output_shape=shape, bias_axes=bias_axes)
            layer.build(build_shape)
            return layer

        heads = (None, HEADS, HEAD_DIM)
        self.q, self.k, self.v = (dense("abc,cde->abde", heads, "de", input_shape) for _ in range(3))
        self.out = dense("abcd,cde->abe", (None, MODEL_DIM), "e", (input_shape[0], input_shape[1], HEADS, HEAD_DIM))

    def call(self, x):
        return self.out(self.q(x) * self.k(x) + self.v(x))


def make_layer(kind):
    """The layer benchmarked for `kind`; local attention gets 2 * BLOCK keys per query, like Sinkhorn."""
    if kind == "projections":
        return Projections()
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


def layer_step(kind, length, jit_compile):
    """Returns a step function for the whole layer (projections included)."""
    x = tf.random.normal([1, length, HEADS * HEAD_DIM])
    layer = make_layer(kind)

    def call(inputs):
        if kind == "keras_mha":
            return layer(inputs, inputs, training=True)
        if kind == "projections":
            return layer(inputs)
        return layer(inputs, training=True)

    call(x)

    @tf.function(jit_compile=jit_compile)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(call(x))
        return tape.gradient(loss, layer.trainable_variables)

    return step


def ops_step(kind, length, jit_compile):
    """Returns a step function running the attention op alone on Q, K, V variables."""
    q, k, v = (tf.Variable(tf.random.normal([1, HEADS, length, HEAD_DIM])) for _ in range(3))
    nb = length // BLOCK
    sort_logits = tf.Variable(tf.random.normal([1, HEADS, nb, nb]))
    seed = tf.keras.random.SeedGenerator(0)
    variables = [q, k, v]

    def attend():
        if kind == "block_matmul":
            keys = ops.to_blocks(tf.concat([k, v], axis=-2), BLOCK, -2)  # [1, H, 2 NB, b, D]
            return tf.matmul(ops.to_blocks(q, BLOCK, -2), tf.reshape(keys, [1, HEADS, nb, 2 * BLOCK, HEAD_DIM]),
                             transpose_b=True)
        if kind == "dense":
            return ops.dense_attention(q, k, v)
        if kind == "local":
            return ops.local_attention(q, k, v, BLOCK, num_memory_blocks=1)
        if kind == "sparse_fixed":
            return ops.sparse_fixed_attention(q, k, v, BLOCK, STRIDE)
        causal = kind == "sinkhorn_causal"
        perm = tf.exp(ops.gumbel_sinkhorn(sort_logits, 0.75, ITERS, causal=causal, seed=seed))
        if kind == "sortcut":
            return ops.sortcut_attention(q, k, v, perm, BLOCK, SORTCUT_BUDGET)
        return ops.sinkhorn_block_attention(q, k, v, perm, BLOCK, causal=causal)

    if kind in ("sinkhorn", "sinkhorn_causal", "sortcut"):
        variables.append(sort_logits)

    @tf.function(jit_compile=jit_compile)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(attend())
        return tape.gradient(loss, variables)

    return step


def measure(steps, rounds=5, round_seconds=0.5):
    """Median seconds and median peak bytes of each step in `steps` ({name: step}), timed interleaved.

    The steps take turns: each round runs every step (a fast one several times, for about
    `round_seconds`), so a drift of this shared machine's speed during the measurement moves all of
    them alike and the ratios between them stay fair. Peak bytes: what the allocator holds at most
    during one step above what was live before it, median over the timed steps (one step's peak
    varies by tens of MiB).
    """
    times = {name: [] for name in steps}
    peaks = {name: [] for name in steps}

    def run_once(name):
        tf.config.experimental.reset_memory_stats("CPU:0")
        before = tf.config.experimental.get_memory_info("CPU:0")["current"]
        start = time.perf_counter()
        tf.nest.map_structure(lambda t: t.numpy(), steps[name]())
        times[name].append(time.perf_counter() - start)
        peaks[name].append(tf.config.experimental.get_memory_info("CPU:0")["peak"] - before)

    repeats = {}
    for name, step in steps.items():
        step.get_concrete_function()  # trace outside the measurement
        run_once(name)  # the first call also compiles (XLA) and allocates: not timed
        run_once(name)
        repeats[name] = max(1, min(5, int(round_seconds / max(times[name][-1], 1e-3))))
        times[name].clear()
        peaks[name].clear()
    for _ in range(rounds):
        for name in steps:
            for _ in range(repeats[name]):
                run_once(name)
    return {name: (statistics.median(times[name]), statistics.median(peaks[name])) for name in steps}


def fits(kind, length, memory_limit_gb):
    needed = score_bytes(kind, length)
    return needed is None or needed / 2**30 <= memory_limit_gb


def run(lengths, memory_limit_gb):
    """Rows for every mode, length and kind; the kinds of one mode and length (graph and XLA) are
    timed together, interleaved (`measure`)."""
    rows = []
    for mode, builder in (("ops", ops_step), ("layer", layer_step)):
        for length in lengths:
            measured, steps = [], {}
            for kind in KINDS:
                if kind in (OPS_ONLY if mode == "layer" else LAYER_ONLY):
                    continue
                row = dict(mode=mode, kind=kind, length=length, flops=attention_flops(kind, length)
                           + (projection_flops(length) if mode == "layer" and kind != "block_matmul" else 0))
                if kind == "projections":
                    row["flops"] = projection_flops(length)
                rows.append(row)
                if not fits(kind, length, memory_limit_gb):
                    row["skipped"] = True
                    print(f"  {mode:5s} {kind:16s} L={length:6d}  skipped (does not fit)", flush=True)
                    continue
                measured.append(row)
                steps[kind, False] = builder(kind, length, jit_compile=False)
                steps[kind, True] = builder(kind, length, jit_compile=True)
            results = measure(steps)
            for row in measured:
                row["seconds"], row["peak_bytes"] = results[row["kind"], False]
                row["xla_seconds"] = results[row["kind"], True][0]
                print(f"  {mode:5s} {row['kind']:16s} L={length:6d}  {row['seconds'] * 1e3:9.1f} ms  "
                      f"{row['peak_bytes'] / 2**20:9.1f} MiB  XLA {row['xla_seconds'] * 1e3:9.1f} ms", flush=True)
    return rows


def _ratio(value, base):
    return f"{value / base:.3g}x" if base else "-"


def table(rows):
    """Markdown table with ratios against dense, local and projections-only rows of the same run."""
    index = {(r["mode"], r["kind"], r["length"]): r for r in rows if not r.get("skipped")}
    lines = ["| mode | attention | L | GFLOP (fwd) | time (ms) | GFLOP/s | peak mem (MiB) | time / dense | "
             "mem / dense | time / local | time / projections | XLA time (ms) | XLA / graph | time vs L/4 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        head = f"| {r['mode']} | {r['kind']} | {r['length']} | {r['flops'] / 1e9:.3g} |"
        if r.get("skipped"):
            lines.append(head + " skipped: does not fit | | | | | | | | | |")
            continue
        dense = index.get((r["mode"], "dense", r["length"]))
        local = index.get((r["mode"], "local", r["length"]))
        projections = index.get(("layer", "projections", r["length"])) if r["mode"] == "layer" else None
        shorter = index.get((r["mode"], r["kind"], r["length"] // 4))
        lines.append(head + " {:.1f} | {:.0f} | {:.1f} | {} | {} | {} | {} | {:.1f} | {} | {} |".format(
            r["seconds"] * 1e3, 3 * r["flops"] / r["seconds"] / 1e9, r["peak_bytes"] / 2**20,
            _ratio(r["seconds"], dense and dense["seconds"]), _ratio(r["peak_bytes"], dense and dense["peak_bytes"]),
            _ratio(r["seconds"], local and local["seconds"]),
            _ratio(r["seconds"], projections and projections["seconds"]), r["xla_seconds"] * 1e3,
            _ratio(r["xla_seconds"], r["seconds"]), _ratio(r["seconds"], shorter and shorter["seconds"])))
    return "\n".join(lines)


def targets(rows, baseline_rows=()):
    """The targets of the performance issues, as ratios from this run (None where not measured).

    `baseline_rows`: rows of an earlier run (the peak memory before the speed work)."""
    index = {(r["mode"], r["kind"], r["length"]): r for r in rows if not r.get("skipped")}
    before = {(r["mode"], r["kind"], r["length"]): r for r in baseline_rows if not r.get("skipped")}
    lengths = sorted({r["length"] for r in rows})

    def ratio(a, b, key="seconds", key_b=None):
        return a[key] / b[key_b or key] if a and b else None

    checks = []

    def check(mode, name, value, target, limit, at_most=True):
        ok = value is not None and (value <= limit if at_most else value >= limit)
        checks.append((mode, name, value, target, ok))

    for mode in ("ops", "layer"):
        s4, d4 = index.get((mode, "sinkhorn", 4096)), index.get((mode, "dense", 4096))
        s16 = index.get((mode, "sinkhorn", 16384))
        if mode == "ops":  # the speed target is for the attention ops alone
            check(mode, "Sinkhorn speed-up over dense at L=4096", ratio(d4, s4), ">= 15", 15, at_most=False)
        check(mode, "Sinkhorn peak memory / dense at L=4096", ratio(s4, d4, "peak_bytes"), "<= 0.1", 0.1)
        check(mode, "Sinkhorn time L=16384 / L=4096", ratio(s16, s4), "<= 4.5", 4.5)
        check(mode, "Sinkhorn memory L=16384 / L=4096", ratio(s16, s4, "peak_bytes"), "<= 4.5", 4.5)
        for length in lengths:
            local, sinkhorn = index.get((mode, "local", length)), index.get((mode, "sinkhorn", length))
            check(mode, f"local time / Sinkhorn time at L={length}", ratio(local, sinkhorn), "<= 1", 1.0)
        check(mode, "sparse_fixed time / dense time at L=4096",
              ratio(index.get((mode, "sparse_fixed", 4096)), d4), "<= 1", 1.0)
    for kind in SORTING_KINDS:
        for length, limit in ((4096, 1.4), (16384, 1.5)):
            check("layer", f"{kind} time / projections at L={length}",
                  ratio(index.get(("layer", kind, length)), index.get(("layer", "projections", length))),
                  f"<= {limit}", limit)
        old = before.get(("layer", kind, 16384))
        check("layer", f"{kind} peak memory at L=16384 / before the speed work",
              ratio(index.get(("layer", kind, 16384)), old, "peak_bytes"), "<= 1", 1.0)
    for kind in KINDS:
        if kind in OPS_ONLY or kind == "projections":
            continue
        for length in lengths:
            r = index.get(("layer", kind, length))
            check("layer", f"{kind} XLA / graph at L={length}", ratio(r, r, "xla_seconds", "seconds"), "<= 1.1", 1.1)
    lines = [f"| {mode} | {name} | {'not measured' if value is None else f'{value:.3g}'} | {target} | "
             f"{'met' if ok else 'MISSED'} |" for mode, name, value, target, ok in checks]
    return "| mode | target | measured | target | |\n|---|---|---|---|---|\n" + "\n".join(lines)


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (("time per step (ms)", lambda r: r["seconds"] * 1e3, "log"),
              ("XLA time / graph time", lambda r: r["xla_seconds"] / r["seconds"], "linear"),
              ("peak memory (MiB)", lambda r: r["peak_bytes"] / 2**20, "log"))
    fig, axes = plt.subplots(len(panels), 2, figsize=(12, 13))
    for col, mode in enumerate(("ops", "layer")):
        for row, (label, value, yscale) in enumerate(panels):
            ax = axes[row][col]
            for kind in KINDS:
                pts = [(r["length"], value(r)) for r in rows
                       if r["mode"] == mode and r["kind"] == kind and not r.get("skipped")]
                if pts:
                    ax.plot(*zip(*pts), marker="o", label=kind, color=f"C{KINDS.index(kind)}")
            ax.set_xscale("log", base=2)
            ax.set_yscale(yscale)
            ax.set_xlabel("sequence length L")
            ax.set_ylabel(label)
            ax.set_title(f"{mode}: forward + backward, batch 1, {HEADS}x{HEAD_DIM}, block {BLOCK}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 4096, 16384])
    parser.add_argument("--memory_limit_gb", type=float, default=12.0,
                        help="skip dense-score kinds whose score tensors would exceed this")
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out", default=os.path.join(here, "attention_cpu"))
    parser.add_argument("--baseline", default=os.path.join(here, "attention_cpu_before.json"),
                        help="JSON of an earlier run whose peak memory the sorting layers must not exceed")
    args = parser.parse_args(argv)
    for length in args.lengths:
        if length < SORTCUT_BUDGET * BLOCK or length % BLOCK:
            parser.error(f"--lengths: every length must be a multiple of the block size {BLOCK} and at least "
                         f"{SORTCUT_BUDGET * BLOCK} (the SortCut budget), got {length}")
    device = tf.config.list_logical_devices("GPU")
    where = device[0].name if device else f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})"
    print(f"Attention benchmark on {where}; TF {tf.__version__}", flush=True)
    rows = run(args.lengths, args.memory_limit_gb)
    baseline = json.load(open(args.baseline))["rows"] if os.path.exists(args.baseline) else ()
    text = table(rows) + "\n\n" + targets(rows, baseline)
    print("\n" + text)
    header = (f"Forward + backward, batch 1, {HEADS} heads x {HEAD_DIM}, block {BLOCK}, float32, {where}, "
              f"TF {tf.__version__}. Local attention: own block + previous block (2 x {BLOCK} keys per query). "
              "XLA: the same step under `tf.function(jit_compile=True)`.\n\n")
    with open(args.out + ".md", "w") as f:
        f.write(header + text + "\n")
    with open(args.out + ".json", "w") as f:
        json.dump(dict(device=where, rows=rows), f, indent=1)
    plot(rows, args.out + ".png")
    print(f"\nwrote {args.out}.md, {args.out}.json, {args.out}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
