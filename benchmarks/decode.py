"""Decoding speed: the layers' incremental caches against re-running the whole decoder per token.

Usage: python benchmarks/decode.py [--types sinkhorn dot_product ...] [--lengths 1024 2048 4096 8192]
                                   [--batches 1 8] [--rerun_length 2048] [--out benchmarks/decode_cpu] [--quick]

A small LM (2 layers, width 256, 4 heads, block 64, vocabulary 256, untrained weights: speed does
not depend on them) decodes greedily through `Decoder`'s own state and step functions, in one
`tf.function` with a `tf.while_loop` per chunk of positions. For every attention type, batch size
and decode length L (the cache holds L positions, as `t2t-decoder` sizes it) it reports:
  - tokens/s with the cache over all L positions;
  - tokens/s of the re-run path (`use_cache=False`: a full causal pass over the L-token buffer per
    token) for L <= --rerun_length. Its cost per token does not depend on the position (the
    buffer is always L long), so it is timed over the first 32 positions;
  - for the longest L, tokens/s per 1024-position chunk (per-token time against position).
Ratios are within this one run. Prints Markdown tables; writes `<out>.md`, `<out>.json`, `<out>.png`.
"""
import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sinkhorn_t2t  # noqa: E402,F401  (quiet TensorFlow import)
import tensorflow as tf  # noqa: E402

from sinkhorn_t2t import registry  # noqa: E402
from sinkhorn_t2t.hparam import HParams  # noqa: E402
from sinkhorn_t2t.models.transformer import build_model  # noqa: E402
from sinkhorn_t2t.training.decoding import Decoder  # noqa: E402

TYPES = ("dot_product", "local", "sparse_fixed", "sinkhorn", "sinkhorn_mixture")
VOCAB, RERUN_STEPS, CHUNK = 256, 32, 1024


def make_decoder(kind, max_length):
    hp = registry.hparams("transformer_small")  # 2 layers, width 256, 4 heads
    hp.override_from_dict(dict(self_attention_type=kind, sinkhorn_block_size=64, sparse_stride=64,
                               max_length=max_length, sinkhorn_gumbel_noise=False))
    model = build_model("transformer", hp, HParams(modality={"targets": "symbol"}, vocab_size={"targets": VOCAB}))
    return Decoder(model, max_length, stop_at_eos=False)


def make_loop(decoder, use_cache):
    """`(state, previous, start, stop) -> (state, previous)`: greedy steps start..stop-1 in one
    XLA-compiled graph, as `Decoder` compiles its searches."""
    @tf.function(jit_compile=True)
    def loop(state, previous, start, stop):
        def body(i, previous, state):
            logp, state = decoder.step(previous, i, state, use_cache)
            return i + 1, tf.argmax(logp, -1, output_type=tf.int32)[:, None], state

        _, previous, state = tf.while_loop(lambda i, *_: i < stop, body, (start, previous, state))
        return state, previous

    return loop


def timed_chunks(decoder, use_cache, batch, length, bounds):
    """Seconds spent on each `[start, stop)` of `bounds`, decoding in order from position 0, after
    an untimed two-position warm-up that traces the loop (every chunk then reuses the graph)."""
    loop = make_loop(decoder, use_cache)
    previous = tf.zeros((batch, 1), tf.int32)
    loop(decoder.init_state(None, batch, length, use_cache), previous, tf.constant(0), tf.constant(2))
    state, seconds = decoder.init_state(None, batch, length, use_cache), []
    for start, stop in bounds:
        begin = time.perf_counter()
        state, previous = loop(state, previous, tf.constant(start), tf.constant(stop))
        previous.numpy()
        seconds.append(time.perf_counter() - begin)
    if loop.experimental_get_tracing_count() != 1:
        raise RuntimeError("the decode loop was traced more than once: the timings include tracing")
    return seconds


def run(types, lengths, batches, rerun_length):
    rows, positions = [], []
    longest = max(lengths)
    for kind in types:
        decoder = make_decoder(kind, longest)
        for batch in batches:
            for length in lengths:
                bounds = [(s, min(s + CHUNK, length)) for s in range(0, length, CHUNK)]
                seconds = timed_chunks(decoder, True, batch, length, bounds)
                row = dict(type=kind, batch=batch, length=length, cached_tok_s=batch * length / sum(seconds))
                if length <= rerun_length:
                    rerun = timed_chunks(decoder, False, batch, length, [(0, RERUN_STEPS)])
                    row["rerun_tok_s"] = batch * RERUN_STEPS / rerun[0]
                    row["speedup"] = row["cached_tok_s"] / row["rerun_tok_s"]
                rows.append(row)
                print(json.dumps(row), flush=True)
                if length == longest:
                    rates = [batch * (stop - start) / s for (start, stop), s in zip(bounds, seconds)]
                    positions.append(dict(type=kind, batch=batch, starts=[s for s, _ in bounds], tok_s=rates,
                                          flatness=rates[-1] / rates[0]))
    return rows, positions


def crossover(rows, batch):
    """The shortest length from which causal Sinkhorn decodes faster than dense with a KV cache."""
    rate = {(r["type"], r["length"]): r["cached_tok_s"] for r in rows if r["batch"] == batch}
    lengths = sorted({length for _, length in rate})
    faster = [length for length in lengths if rate[("sinkhorn", length)] > rate[("dot_product", length)]]
    start = next((length for length in lengths if all(x in faster for x in lengths if x >= length)), None)
    return start


def tables(rows, positions, batches):
    lines = ["| type | batch | length | cached tok/s | re-run tok/s | cached / re-run |", "|---|---|---|---|---|---|"]
    for r in rows:
        rerun = f"{r['rerun_tok_s']:.1f}" if "rerun_tok_s" in r else "-"
        speedup = f"{r['speedup']:.1f}x" if "speedup" in r else "-"
        lines.append(f"| {r['type']} | {r['batch']} | {r['length']} | {r['cached_tok_s']:.1f} | {rerun} | {speedup} |")
    lines += ["", "| type | batch | tok/s at positions 0-1024 | last 1024 | last / first |", "|---|---|---|---|---|"]
    for p in positions:
        lines.append(f"| {p['type']} | {p['batch']} | {p['tok_s'][0]:.1f} | {p['tok_s'][-1]:.1f} | "
                     f"{p['flatness']:.2f} |")
    lines.append("")
    measured = {r["type"] for r in rows}
    for batch in batches if {"sinkhorn", "dot_product"} <= measured else []:
        length = crossover(rows, batch)
        lines.append(f"- batch {batch}: causal Sinkhorn decodes faster than dense with a KV cache "
                     + (f"from length {length} on." if length else "at none of the lengths measured."))
    return "\n".join(lines)


def plot(positions, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len({p["batch"] for p in positions}), figsize=(11, 4), squeeze=False)
    for ax, batch in zip(axes[0], sorted({p["batch"] for p in positions})):
        for p in positions:
            if p["batch"] == batch:
                ax.plot([s + CHUNK / 2 for s in p["starts"]], [1000.0 * batch / t for t in p["tok_s"]], marker="o",
                        label=p["type"])
        ax.set(title=f"batch {batch}", xlabel="position", ylabel="ms per decode step (cached)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--types", nargs="+", default=list(TYPES), choices=TYPES)
    parser.add_argument("--lengths", type=int, nargs="+", default=[1024, 2048, 4096, 8192])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rerun_length", type=int, default=2048)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "decode_cpu"))
    parser.add_argument("--quick", action="store_true", help="lengths 256 512, batch 1 (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.lengths, args.batches, args.rerun_length = [256, 512], [1], 512
    where = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, TF {tf.__version__}"
    print(f"decode benchmark on {where}", flush=True)
    rows, positions = run(args.types, sorted(args.lengths), args.batches, args.rerun_length)
    text = tables(rows, positions, args.batches)
    print("\n" + text)
    with open(args.out + ".md", "w") as f:
        f.write(f"Decoding, {where}\n\n{text}\n")
    with open(args.out + ".json", "w") as f:
        json.dump(dict(device=where, rows=rows, positions=positions), f, indent=1)
    plot(positions, args.out + ".png")
    print(f"\nwrote {args.out}.md, {args.out}.json, {args.out}.png")


if __name__ == "__main__":
    main()
