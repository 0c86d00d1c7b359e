"""What `--random_seed` (TensorFlow's op determinism) costs in training speed.

Usage: python benchmarks/determinism.py [--steps 300] [--hparams_set transformer_tiny] [--out benchmarks/determinism_cpu]

Trains the same model on the algorithmic sort problem with `t2t-trainer`, once without a seed and
once with `--random_seed` (which turns on `tf.config.experimental.enable_op_determinism`), per
attention type, alternating the two runs, and compares steady-state steps/s (the progress lines
after the first). Prints a Markdown table; writes `<out>.md`, `<out>.json` and `<out>.png`.
"""
import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile

BIN = os.path.dirname(sys.executable)
TYPES = ("dot_product", "sinkhorn")


def steps_per_second(output):
    rates = [float(r) for r in re.findall(r"([\d.]+) steps/s", output)]
    return sum(rates[1:]) / max(len(rates) - 1, 1)  # the first line includes tracing


def train(data_dir, kind, steps, hparams_set, seed):
    with tempfile.TemporaryDirectory() as out:
        args = [os.path.join(BIN, "t2t-trainer"), "--problem=algorithmic_sort_problem", "--model=transformer",
                f"--hparams_set={hparams_set}", f"--hparams=self_attention_type={kind},max_length=64",
                f"--data_dir={data_dir}", f"--output_dir={out}", f"--train_steps={steps}", "--schedule=train",
                f"--log_step_count_steps={steps // 6}", f"--local_eval_frequency={steps}"]
        if seed:
            args.append("--random_seed=1")
        result = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        if result.returncode:
            raise RuntimeError(result.stderr[-2000:])
        return steps_per_second(result.stdout)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r["free_steps_s"] for r in rows], 0.4, label="no seed")
    ax.bar([i + 0.2 for i in x], [r["deterministic_steps_s"] for r in rows], 0.4, label="--random_seed (deterministic)")
    ax.set_xticks(list(x), [r["type"] for r in rows])
    ax.set(ylabel="steps/s")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--hparams_set", default="transformer_tiny")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "determinism_cpu"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        made = subprocess.run([os.path.join(BIN, "t2t-datagen"), "--problem=algorithmic_sort_problem",
                               f"--data_dir={data_dir}", f"--tmp_dir={data_dir}/tmp"], capture_output=True, text=True)
        if made.returncode:
            raise RuntimeError(made.stderr[-2000:])
        rows = []
        for kind in TYPES:
            free = train(data_dir, kind, args.steps, args.hparams_set, seed=False)
            fixed = train(data_dir, kind, args.steps, args.hparams_set, seed=True)
            rows.append(dict(type=kind, free_steps_s=free, deterministic_steps_s=fixed, ratio=fixed / free))
            print(json.dumps(rows[-1]), flush=True)
    where = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    lines = [f"{args.hparams_set}, sort problem, {args.steps} steps, {where}", "",
             "| type | steps/s, no seed | steps/s, --random_seed | deterministic / free |", "|---|---|---|---|"]
    lines += [f"| {r['type']} | {r['free_steps_s']:.2f} | {r['deterministic_steps_s']:.2f} | {r['ratio']:.2f}x |"
              for r in rows]
    text = "\n".join(lines)
    print("\n" + text)
    with open(args.out + ".md", "w") as f:
        f.write(text + "\n")
    with open(args.out + ".json", "w") as f:
        json.dump(rows, f, indent=1)
    plot(rows, args.out + ".png")


if __name__ == "__main__":
    main()
