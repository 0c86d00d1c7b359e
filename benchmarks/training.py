"""Training throughput: steps/s and tokens/s per attention type, stage by stage, and against T2T.

Usage: python benchmarks/training.py [--types dot_product sinkhorn ...] [--steps 200] [--quick]
                                     [--t2t_python PATH] [--fixed_steps 400]
                                     [--out benchmarks/training_cpu]

Part 1, per attention type on two problems: the T2T sort problem (`algorithmic_sort_problem`,
dynamic length buckets and, with `--xla_compile`'s fixed-shape buckets, XLA) and a packed
character LM (`languagemodel_lm1b_characters_packed`, rows of 1024 bytes, from LM1B-format files
this script writes: the speed does not depend on the text). For each it measures, in one process:
  - input: the input pipeline alone (batches/s and real tokens/s);
  - step: the compiled training step alone, on one batch held in memory;
  - train: the trainer's own loop (`iterations_per_loop` steps per host call), data included;
and names the slowest stage (the one with the lowest steps/s alone; "+ input sharing its cores"
when the loop is more than 10% slower than it: the input pipeline's threads take CPU from the step).

Part 2 (`--fixed_steps`, 400 by default): our `t2t-trainer` trains `transformer_tiny` on the sort
data twice, with dynamic length buckets and with `--xla_compile` (fixed-shape buckets, the TPU
path); steady-state steps/s is the median of the progress lines (every 50 steps) after the first.

Part 3 (`--t2t_python`, the interpreter of a Tensor2Tensor 1.15.7 install, e.g. the one
`shared/tools/real_t2t/setup_real_t2t.sh` builds): T2T's own `t2t-datagen` writes the sort data,
then T2T's trainer and this project's `t2t-trainer` train `transformer_tiny` on that same data dir
for `--t2t_steps` steps, one after the other; steady-state steps/s is the median of the progress
lines after the first (T2T's `global_step/sec`, our `steps/s`).

Prints Markdown tables and writes `<out>.md`, `<out>.json` and a PNG plot `<out>.png`.
"""
import argparse
import json
import math
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sinkhorn_t2t  # noqa: E402,F401  (quiet TensorFlow import)
import tensorflow as tf  # noqa: E402

from sinkhorn_t2t import registry  # noqa: E402
from sinkhorn_t2t.data.problem import DatasetSplit  # noqa: E402
from sinkhorn_t2t.models.attention_factory import SELF_ATTENTION_TYPES  # noqa: E402
from sinkhorn_t2t.training.trainer import COMPILED_MESSAGE, Trainer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SORT, PACKED_LM = "algorithmic_sort_problem", "languagemodel_lm1b_characters_packed"
WORDS = ("the of and to in a is that for it as was with be by on not he this are or his from at which but have an "
         "they you were her she there been one all we their has would when if so no will can more about said up "
         "out them into some could time other than then its two now only first new very also after years most "
         "people may over such made where between many those being under both world while house still").split()


def write_lm1b_release(tmp_dir, lines_per_shard, seed=0):
    """LM1B's release layout (99 training shards, the first heldout shard, the vocabulary file)
    holding random sentences over a small word list."""
    from sinkhorn_t2t.problems import lm1b

    rng = random.Random(seed)

    def shard(path, lines):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            for _ in range(lines):
                f.write(" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40))) + " .\n")

    for name in lm1b.TRAIN_FILES:
        shard(os.path.join(tmp_dir, name), lines_per_shard)
    shard(os.path.join(tmp_dir, lm1b.DEV_FILE), lines_per_shard * 4)
    with open(os.path.join(tmp_dir, lm1b.VOCAB_FILE), "w") as f:
        f.write("\n".join(WORDS + ["."]) + "\n")


def hparams_for(problem_name, kind):
    """transformer_tiny with `kind` attention; 64-token blocks on the LM, 8 on the short sort data."""
    hp = registry.hparams("transformer_tiny")
    if problem_name == PACKED_LM:
        overrides = dict(max_length=1024, batch_size=2048, sinkhorn_block_size=64, sparse_stride=8)
    else:
        overrides = dict(max_length=256, sinkhorn_block_size=8, sparse_stride=2)
    hp.override_from_dict(dict(self_attention_type=kind, **overrides))
    return hp


def real_tokens(batch):
    return int(tf.reduce_sum(tf.cast(batch["targets"] > 0, tf.int64)))


def rate(fn, count, warm_up=1):
    """`count` / seconds of `fn()`, after `warm_up` untimed calls (which trace and compile)."""
    for _ in range(warm_up):
        fn()
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


MATMUL_TYPES = ("MatMul", "BatchMatMulV2", "BatchMatMulV3")
MIXED_ELEMENTS = 6  # stacked elements (one bucket length each) read for the input rate and real tokens


def step_matmuls(trainer, features):
    """The matmuls of one training step on `features` (forward and gradient), read from the
    step's graph traced for those shapes: a list of (a shape, b shape, adjoint_a, adjoint_b, FLOPs)."""
    graph = tf.function(trainer._replica_train_step).get_concrete_function(features).graph
    found = []
    for op in graph.get_operations():
        if op.type in MATMUL_TYPES:
            adjoint = [op.get_attr(a) for a in (("adj_x", "adj_y") if op.type.startswith("Batch") else
                                                 ("transpose_a", "transpose_b"))]
            a, b, out = (tuple(t.shape.as_list()) for t in (op.inputs[0], op.inputs[1], op.outputs[0]))
            if None in a + b:
                raise ValueError(f"{op.name}: shapes {a}, {b} are not static")
            found.append((a, b, *adjoint, 2 * math.prod(out) * (a[-2] if adjoint[0] else a[-1])))
    return found


def matmul_floor(trainer, batches, repeats=3):
    """Steps/s of the training step's matmuls alone (the same shapes and transposes on random
    operands, nothing else) over `batches`, and the GFLOP/s they run at: the step's speed limit
    if everything but its matmuls were free. Batches of one shape are timed once."""
    by_shape = {}
    for features in batches:
        key = tuple(sorted((k, tuple(v.shape)) for k, v in features.items()))
        by_shape.setdefault(key, [features, 0])[1] += 1
    seconds, flops = 0.0, 0
    for features, count in by_shape.values():
        matmuls = step_matmuls(trainer, features)
        operands = [(tf.random.normal(a), tf.random.normal(b)) for a, b, *_ in matmuls]
        run = tf.function(lambda: [tf.linalg.matmul(x, y, adjoint_a=ta, adjoint_b=tb)
                                   for (x, y), (_, _, ta, tb, _) in zip(operands, matmuls)])
        run()
        start = time.perf_counter()
        for _ in range(repeats):
            run()
        seconds += count * (time.perf_counter() - start) / repeats
        flops += count * sum(m[-1] for m in matmuls)
    return len(batches) / seconds, flops / seconds / 1e9


def stacked_loop_rate(trainer, batches, steps, kept_calls, most_calls=16):
    """Steps/s of the TPU-style loop: host calls that each draw a stack of `steps` batches of one
    bucket length from the input pipeline and run them in one XLA program, timed one by one. A
    call on a bucket length this loop has not run before compiles it and is left out, until
    `kept_calls` calls are kept (or `most_calls` are made), so the rate covers the buckets' mix."""
    run = tf.function(lambda stack: trainer.strategy.run(trainer._multi_step, args=(stack,))[0])
    seen, seconds, kept = set(), 0.0, 0
    for _ in range(most_calls):
        start = time.perf_counter()
        stack = next(batches)
        float(run(stack))
        length = next(iter(stack.values())).shape[-1]
        if length in seen:
            seconds, kept = seconds + time.perf_counter() - start, kept + 1
        seen.add(length)
        if kept == kept_calls:
            break
    return kept * steps / seconds


def measure(problem, data_dir, kind, steps, xla, work_dir):
    """Steps/s of the input pipeline, the training step and the training loop, and tokens/s.

    With `xla` (fixed-shape buckets, the TPU-style loop) one host call runs `steps` steps of one
    bucket length, and calls that compile a bucket length are left out (`stacked_loop_rate`)."""
    hp = hparams_for(problem.name, kind)
    trainer = Trainer(problem, "transformer", hp, data_dir, tempfile.mkdtemp(dir=work_dir), tf.distribute.get_strategy(),
                      fixed_shapes=xla, xla_compile=xla, iterations_per_loop=steps, seed=1, log=lambda s: None)
    trainer.loop_steps = steps
    per_element = steps if trainer.stacked else 1  # batches in one dataset element
    elements = steps // per_element
    # A stacked element holds `steps` batches of one bucket length: the input rate and the real
    # tokens per batch are taken over several elements, so that they follow the data's mix of lengths.
    read_elements = max(elements, MIXED_ELEMENTS) if trainer.stacked else elements
    batches = iter(trainer._dataset(DatasetSplit.TRAIN))
    tokens = []

    def read():
        for _ in range(read_elements):
            tokens.append(real_tokens(next(batches)) / per_element)

    input_rate = rate(read, read_elements * per_element)
    held = [next(batches) for _ in range(max(elements, 4))]  # in memory: the step without the pipeline
    lengths = {tuple(next(iter(b.values())).shape) for b in held}
    cached = tf.data.Dataset.from_tensors(held[0])
    for element in held[1:]:
        cached = cached.concatenate(tf.data.Dataset.from_tensors(element))
    one = iter(cached.repeat())
    if trainer.stacked:
        train = trainer._train_stacked
        step_rate = rate(lambda: float(train(one)[0]), steps, warm_up=len(held))
        loop_rate = stacked_loop_rate(trainer, batches, steps, kept_calls=len(lengths) + 2)
    else:
        chunk = tf.constant(steps)
        step_rate = rate(lambda: float(trainer._train_chunk(one, chunk)), steps, warm_up=2)
        loop_rate = rate(lambda: float(trainer._train_chunk(batches, chunk)), steps, warm_up=2)
    mean_tokens = statistics.mean(tokens)
    floor_rate, gflops = matmul_floor(trainer, [{k: v[0] for k, v in b.items()} for b in held] if trainer.stacked
                                      else held)
    row = dict(problem=problem.name, kind=kind, xla=xla, input_steps_per_s=input_rate, step_steps_per_s=step_rate,
               train_steps_per_s=loop_rate, tokens_per_s=loop_rate * mean_tokens, real_tokens_per_batch=mean_tokens,
               matmul_floor_steps_per_s=floor_rate, matmul_gflops=gflops)
    return dict(row, slowest=slowest_stage(row))


def slowest_stage(row):
    """The stage with the lowest steps/s alone; when the loop is more than 10% below it, the input
    pipeline's threads and the step compete for the same cores (2 here)."""
    stages = {"input pipeline": row["input_steps_per_s"], "training step": row["step_steps_per_s"]}
    slowest = min(stages, key=stages.get)
    if row["train_steps_per_s"] < 0.9 * stages[slowest]:
        slowest += " (+ input sharing its cores)"
    return slowest


def steady_rates(text, pattern):
    """The progress lines' steps/s (`pattern`), their median after the first, and their median
    over the lines after the first whose interval compiled no new bucket length (the trainer logs
    each bucket length's compilation before the progress line it falls in)."""
    rates, compiled, compiling = [], [], False
    for line in text.splitlines():
        compiling = compiling or COMPILED_MESSAGE in line
        found = re.search(pattern, line)
        if found:
            rates.append(float(found.group(1)))
            compiled.append(compiling)
            compiling = False
    clean = [r for r, c in zip(rates[1:], compiled[1:]) if not c]
    return (rates, statistics.median(rates[1:]) if len(rates) > 1 else None,
            statistics.median(clean) if clean else None, sum(compiled))


def sort_training_flags(data_dir, steps, log_every):
    """The trainer flags (T2T's and ours) of the side-by-side runs: `transformer_tiny` on the sort data."""
    return [f"--problem={SORT}", f"--data_dir={data_dir}", f"--train_steps={steps}",
            f"--log_step_count_steps={log_every}", "--model=transformer", "--hparams_set=transformer_tiny",
            "--local_eval_frequency=100000", "--schedule=train", "--random_seed=1"]


OUR_TRAINER = [sys.executable, "-m", "sinkhorn_t2t.bin.t2t_trainer"]


def run_trainer(name, command, output_dir, pattern):
    """Runs a trainer command to its end: its progress lines' steps/s (`pattern`), their steady
    value (the median after the first line, which holds start-up and compilation) and the wall time."""
    start = time.perf_counter()
    done = subprocess.run(command + [f"--output_dir={output_dir}"], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="1"), cwd=ROOT)
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{name} trainer failed:\n{done.stderr[-3000:]}")
    rates, steady, compiled_once, compiles = steady_rates(done.stdout + done.stderr, pattern)
    print(f"  {name:30s} steady {steady:.2f} steps/s (progress lines {rates}; {compiles} with a bucket length's "
          f"compilation), wall {wall:.0f} s", flush=True)
    return dict(rates=rates, steady_steps_per_s=steady, compiled_steps_per_s=compiled_once, compiles=compiles,
                wall_s=wall)


def compare_with_t2t(t2t_python, steps, work_dir):
    """T2T writes the sort data; T2T's trainer and ours train transformer_tiny on it."""
    data_dir, tmp_dir = os.path.join(work_dir, "t2t_data"), os.path.join(work_dir, "t2t_tmp")
    usr_dir = os.path.join(os.path.dirname(ROOT), "shared", "tools", "real_t2t", "usr_dir")
    t2t = [t2t_python, "-m"]
    subprocess.run(t2t + ["tensor2tensor.bin.t2t_datagen", f"--problem={SORT}", f"--data_dir={data_dir}",
                          f"--tmp_dir={tmp_dir}", f"--t2t_usr_dir={usr_dir}"],
                   check=True, capture_output=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="1"))
    flags = sort_training_flags(data_dir, steps, log_every=100)
    return {"T2T 1.15.7": run_trainer("T2T 1.15.7", t2t + ["tensor2tensor.bin.t2t_trainer", f"--t2t_usr_dir={usr_dir}"]
                                      + flags, os.path.join(work_dir, "out_T2T"), r"global_step/sec: ([0-9.]+)"),
            "sinkhorn-t2t": run_trainer("sinkhorn-t2t", OUR_TRAINER + flags, os.path.join(work_dir, "out_sin"),
                                        r"([0-9.]+) steps/s")}


def compare_fixed_shapes(data_dir, steps, work_dir):
    """Our trainer on the sort data, dynamic length buckets vs `--xla_compile` (fixed-shape
    buckets, 50 steps per XLA program): progress lines every 50 steps."""
    flags = sort_training_flags(data_dir, steps, log_every=50)
    return {name: run_trainer(name, OUR_TRAINER + flags + extra, os.path.join(work_dir, out), r"([0-9.]+) steps/s")
            for name, out, extra in (("dynamic shapes", "out_dynamic", []),
                                     ("--xla_compile (fixed buckets)", "out_xla", ["--xla_compile"]))}


def tables(rows, t2t, fixed):
    lines = ["| problem | attention | shapes | input (batches/s) | step alone (steps/s) | training loop (steps/s) | "
             "real tokens/s | matmuls alone (steps/s) | matmuls' share of the step | slowest stage |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        floor = r.get("matmul_floor_steps_per_s")  # absent from rows of runs before it was measured
        floor_cells = f"{floor:.2f} ({r['matmul_gflops']:.0f} GFLOP/s) | {r['step_steps_per_s'] / floor:.2f} |" \
            if floor else "- | - |"
        lines.append(f"| {r['problem']} | {r['kind']} | {'XLA, fixed buckets' if r['xla'] else 'dynamic'} | "
                     f"{r['input_steps_per_s']:.1f} | {r['step_steps_per_s']:.2f} | {r['train_steps_per_s']:.2f} | "
                     f"{r['tokens_per_s']:.0f} | {floor_cells} {slowest_stage(r)} |")
    sort_rates = {(r["kind"], r["xla"]): r["train_steps_per_s"] for r in rows if r["problem"] == SORT}
    lines += ["", "| sort problem | XLA fixed buckets / dynamic shapes (training loop steps/s) |", "|---|---|"]
    for kind in dict.fromkeys(r["kind"] for r in rows):
        if (kind, True) in sort_rates and (kind, False) in sort_rates:
            lines.append(f"| {kind} | {sort_rates[kind, True] / sort_rates[kind, False]:.2f}x |")
    if fixed:
        dynamic, compiled = fixed["runs"].values()
        lines += ["", f"| our trainer, sort problem, {fixed['steps']} steps | progress lines (steps/s, every 50 "
                  "steps) | steady steps/s (median after the first) | lines with a bucket length's compilation | "
                  "steady steps/s once compiled (median of the other lines after the first) | wall (s) |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {name} | {' '.join(f'{x:.2f}' for x in v['rates'])} | {v['steady_steps_per_s']:.2f} | "
                  f"{v.get('compiles', '-')} | {_cell(v.get('compiled_steps_per_s'))} | {v['wall_s']:.0f} |"
                  for name, v in fixed["runs"].items()]
        once = [v.get("compiled_steps_per_s") for v in (compiled, dynamic)]
        lines.append(f"| ratio (fixed / dynamic) | | "
                     f"{compiled['steady_steps_per_s'] / dynamic['steady_steps_per_s']:.2f}x | | "
                     f"{_cell(once[0] / once[1] if None not in once else None, 'x')} | "
                     f"{compiled['wall_s'] / dynamic['wall_s']:.2f}x |")
    if t2t:
        ours, theirs = t2t["sinkhorn-t2t"], t2t["T2T 1.15.7"]
        lines += ["", "| transformer_tiny, T2T's sort data | steady steps/s | wall (s) |", "|---|---|---|"]
        lines += [f"| {name} | {v['steady_steps_per_s']:.2f} | {v['wall_s']:.0f} |" for name, v in t2t.items()]
        lines.append(f"| ratio (ours / T2T) | {ours['steady_steps_per_s'] / theirs['steady_steps_per_s']:.2f}x | "
                     f"{ours['wall_s'] / theirs['wall_s']:.2f}x |")
        floor = [r["matmul_floor_steps_per_s"] for r in rows if (r["problem"], r["kind"], r["xla"]) == (
            SORT, "dot_product", False) and r.get("matmul_floor_steps_per_s")]
        if floor:
            lines.append(f"| 1.3x T2T / our step's matmuls alone (dot_product, dynamic) | "
                         f"{1.3 * theirs['steady_steps_per_s'] / floor[0]:.2f}x | |")
    return "\n".join(lines)


def _cell(value, unit=""):
    return "-" if value is None else f"{value:.2f}{unit}"


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(p, x) for p in (SORT, PACKED_LM) for x in (False, True) if any(
        r["problem"] == p and r["xla"] == x for r in rows)]
    fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4.5), squeeze=False)
    for ax, (problem, xla) in zip(axes[0], groups):
        sel = [r for r in rows if r["problem"] == problem and r["xla"] == xla]
        x = range(len(sel))
        for i, (key, label) in enumerate((("input_steps_per_s", "input alone"), ("step_steps_per_s", "step alone"),
                                          ("train_steps_per_s", "training loop"),
                                          ("matmul_floor_steps_per_s", "step's matmuls alone"))):
            ax.bar([j + (i - 1.5) * 0.2 for j in x], [r.get(key, 0) for r in sel], 0.2, label=label)
        ax.set_xticks(list(x), [r["kind"] for r in sel], rotation=30, fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("steps (batches) per second")
        ax.set_title(f"{problem}{' (XLA, fixed buckets)' if xla else ''}", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--types", nargs="+", default=list(SELF_ATTENTION_TYPES), choices=SELF_ATTENTION_TYPES)
    parser.add_argument("--steps", type=int, default=100, help="steps per timed stage")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 types, 4 steps, small data")
    parser.add_argument("--problems", nargs="+", default=[SORT, PACKED_LM], choices=[SORT, PACKED_LM])
    parser.add_argument("--rows_from", help="JSON of an earlier (interrupted) run whose rows are kept")
    parser.add_argument("--t2t_python", help="python of a Tensor2Tensor 1.15.7 install, for the side-by-side run")
    parser.add_argument("--t2t_steps", type=int, default=600)
    parser.add_argument("--fixed_steps", type=int, default=400,
                        help="steps of our trainer on the sort problem with dynamic and with fixed shapes (0: skip)")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "training_cpu"))
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    if 0 < args.fixed_steps < 100:  # a steady rate needs a progress line (every 50 steps) after the first
        parser.error(f"--fixed_steps must be 0 (skip) or >= 100, got {args.fixed_steps}")
    if args.t2t_python and args.t2t_steps < 200:  # progress every 100 steps
        parser.error(f"--t2t_steps must be >= 200, got {args.t2t_steps}")
    if args.quick:
        args.types, args.steps = args.types[:2], 4
    if args.t2t_python and not os.access(args.t2t_python, os.X_OK):
        parser.error(f"--t2t_python {args.t2t_python} is not an executable interpreter")
    registry.load_builtins()
    work_dir = tempfile.mkdtemp(prefix="training-bench-")
    where = f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})"
    print(f"Training benchmark on {where}; TF {tf.__version__}; work dir {work_dir}", flush=True)
    rows = json.load(open(args.rows_from))["rows"] if args.rows_from else []
    for name in args.problems:
        problem = registry.problem(name)
        data_dir, tmp_dir = os.path.join(work_dir, name), os.path.join(work_dir, name + "_tmp")
        if name == PACKED_LM:
            write_lm1b_release(tmp_dir, lines_per_shard=3 if args.quick else 20)
        problem.generate_data(data_dir, tmp_dir)
        for kind in args.types:
            for xla in ((False, True) if name == SORT else (False,)):
                if any(r["problem"] == name and r["kind"] == kind and r["xla"] == xla for r in rows):
                    continue  # measured by the earlier run
                row = measure(problem, data_dir, kind, args.steps, xla, work_dir)
                rows.append(row)
                print(f"  {name} {kind:16s} {'XLA' if xla else 'dyn'}  input {row['input_steps_per_s']:8.1f}/s  step "
                      f"{row['step_steps_per_s']:7.2f}/s  loop {row['train_steps_per_s']:7.2f}/s  "
                      f"{row['tokens_per_s']:9.0f} tok/s  matmuls alone {row['matmul_floor_steps_per_s']:6.2f}/s "
                      f"({row['matmul_gflops']:.0f} GFLOP/s)  slowest: {row['slowest']}", flush=True)
    fixed = None
    if args.fixed_steps and SORT in args.problems and not args.quick:
        fixed = dict(steps=args.fixed_steps, runs=compare_fixed_shapes(os.path.join(work_dir, SORT), args.fixed_steps,
                                                                        work_dir))
    t2t = compare_with_t2t(args.t2t_python, args.t2t_steps, work_dir) if args.t2t_python else None
    text = tables(rows, t2t, fixed)
    print("\n" + text)
    header = (f"transformer_tiny per attention type, {args.steps} steps per stage, {where}, TF {tf.__version__}. "
              "Sort: T2T's sort problem, block 8; packed LM: rows of 1024 bytes, block 64.\n\n")
    with open(args.out + ".md", "w") as f:
        f.write(header + text + "\n")
    with open(args.out + ".json", "w") as f:
        json.dump(dict(device=where, steps=args.steps, rows=rows, t2t=t2t, fixed_vs_dynamic=fixed), f, indent=1)
    plot(rows, args.out + ".png")
    print(f"\nwrote {args.out}.md, {args.out}.json, {args.out}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
