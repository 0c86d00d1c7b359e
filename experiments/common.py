"""What every replication study shares: flags, one resumable training run per (model, seed),
the cost side (steps/s, peak memory) and the outputs (results JSON, Markdown table, PNG plot).

A run lives in `<work_dir>/runs/<problem>/<run name>-seed<seed>`: the trainer's checkpoints
(killed runs resume from the newest one with their data position and random state, see
`Trainer.train`) and, once trained and evaluated, `result.json`, which later invocations read
instead of training again. Every model of a study trains for the same steps on the same data
with the same seeds.
"""
import argparse
import hashlib
import json
import math
import os
import re
import statistics
import sys
import time

os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")  # makes CPU memory statistics available
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import sinkhorn_t2t  # noqa: E402,F401  (quiet TensorFlow import)
import tensorflow as tf  # noqa: E402

from sinkhorn_t2t import registry  # noqa: E402
from sinkhorn_t2t.training.trainer import Trainer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(description, steps, seeds, quick_steps=10):
    """The flags every study takes. `steps` / `seeds`: the full run's defaults (20-60 minutes on
    2 CPU cores); `--quick` is a smoke run of `quick_steps` steps, one seed, small data."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--steps", type=int, default=None, help=f"training steps per run (default {steps})")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help=f"seeds (default {seeds})")
    parser.add_argument("--work_dir", default=os.path.join(ROOT, "experiments", "work"),
                        help="data and runs (checkpoints, per-run results); rerunning resumes from here")
    parser.add_argument("--out", default=None, help="results prefix: writes <out>.json, <out>.md, <out>.png "
                        "(default experiments/results/<study>, or <work_dir>/<study> with --quick)")
    parser.add_argument("--quick", action="store_true", help="a 2-minute smoke run: few steps, one seed, small data")
    args = parser.parse_args()
    if args.steps is not None and args.steps <= 0:
        parser.error(f"--steps must be positive, got {args.steps}")
    args.steps = args.steps or (quick_steps if args.quick else steps)
    args.seeds = args.seeds or (seeds[:1] if args.quick else seeds)
    return args


def out_prefix(args, study):
    if args.out:
        return args.out
    return os.path.join(args.work_dir, study) if args.quick else os.path.join(ROOT, "experiments", "results", study)


class Progress:
    """Study-level progress: one line per finished run with the study's elapsed time and ETA."""

    def __init__(self, study, total):
        self.study, self.total, self.done, self.began, self.trained = study, total, 0, time.time(), 0

    def log(self, line):
        print(f"[{self.study}] {line}", flush=True)

    def finished(self, name, seconds, trained):
        self.done += 1
        self.trained += trained
        elapsed = time.time() - self.began
        left = self.total - self.done
        per_run = elapsed / self.trained if self.trained else 0.0
        self.log(f"{self.done}/{self.total} runs done ({name}: {seconds:.0f} s); elapsed {elapsed / 60:.1f} min, "
                 f"ETA {left * per_run / 60:.1f} min")


def prepare_data(problem, work_dir, quick, sizes=None):
    """Generates `problem`'s data once under `<work_dir>/data[-quick]`; `sizes` are attribute
    overrides for the quick run (smaller splits). Returns (problem, data_dir, tmp_dir)."""
    if quick and sizes:
        for name, value in sizes.items():
            setattr(problem, name, value)
    data_dir = os.path.join(work_dir, "data-quick" if quick else "data")
    tmp_dir = os.path.join(work_dir, "tmp")
    os.makedirs(tmp_dir, exist_ok=True)
    problem.generate_data(data_dir, tmp_dir)
    return problem, data_dir, tmp_dir


def steady_rate(rates):
    """Median steps/s of the progress lines after the first (which includes tracing); a resumed
    run's lines count too."""
    return statistics.median(rates[1:]) if len(rates) > 1 else (rates[0] if rates else None)


PEAK_LEARNING_RATE = 0.003  # every run: linear warm-up over a fifth of its steps to this, then rsqrt decay
# The quick run's model: one layer, 32 wide (a smoke run of the study's code paths, not a result).
QUICK_MODEL = dict(num_hidden_layers=1, hidden_size=32, filter_size=64, num_heads=2)


def run_dir(work_dir, problem, run_name, hparams, seed, steps):
    """`<work_dir>/runs/<problem>/<run>-seed<seed>-<steps>steps-<hash of the hparams>`: a run is
    resumed or reused only with the same model, seed, steps and data."""
    digest = hashlib.sha256(hparams.to_json().encode()).hexdigest()[:8]
    return os.path.join(work_dir, "runs", problem.name, f"{run_name}-seed{seed}-{steps}steps-{digest}")


def configure(hparams, steps, quick=False):
    """Sets (in place, idempotent) what every run shares and returns `hparams`: the quick model
    (`QUICK_MODEL`) with `quick`, and the learning rate schedule from the run's length: T2T's
    constant*linear_warmup*rsqrt_decay*rsqrt_hidden_size warming up over a fifth of the steps to
    `PEAK_LEARNING_RATE` (the base sets' 8000 warm-up steps would never reach full rate here)."""
    if quick:
        hparams.override_from_dict(QUICK_MODEL)
    warmup = max(steps // 5, 1)
    hparams.override_from_dict(dict(learning_rate_schedule="constant*linear_warmup*rsqrt_decay*rsqrt_hidden_size",
                                    learning_rate_warmup_steps=warmup,
                                    learning_rate_constant=PEAK_LEARNING_RATE * math.sqrt(warmup * hparams.hidden_size)))
    return hparams


def train_and_evaluate(problem, data_dir, run_name, hparams, seed, steps, work_dir, progress, model="transformer",
                       quick=False):
    """Trains (or resumes) one run of `configure(hparams, steps, quick)`, evaluates it on the whole
    dev split, and returns its result dict: the metrics, `steps_per_s` (steady training rate),
    `peak_mb` (peak TensorFlow memory in training above what was live before it: the activations,
    gradients and input pipeline of a step; the largest over a resumed run's processes), `params`,
    `wall_s` (of this process). A finished run's saved
    result is returned as it is."""
    configure(hparams, steps, quick)
    out = run_dir(work_dir, problem, run_name, hparams, seed, steps)
    done = os.path.join(out, "result.json")
    if os.path.exists(done):
        with open(done) as f:
            result = json.load(f)
        progress.log(f"{run_name} seed {seed}: done before, read {done}")
        progress.finished(run_name, 0.0, 0)
        return result
    os.makedirs(out, exist_ok=True)
    log_every = max(steps // 10, min(steps, 5))  # ten progress lines and checkpoints; a smoke run's 10 steps: two
    rates_file = os.path.join(out, "steps_per_s.txt")  # every progress line's rate, kept across resumes
    peaks_file = os.path.join(out, "peak_mb.txt")

    def log(line):
        found = re.search(r"([0-9.]+) steps/s", line)
        if found:
            with open(rates_file, "a") as f:
                f.write(found.group(1) + "\n")
        progress.log(f"{run_name} seed {seed}: {line}")

    began = time.time()
    keras.backend.clear_session(free_memory=True)  # earlier runs' models and graphs
    keras.utils.set_random_seed(seed)
    trainer = Trainer(problem, model, hparams, data_dir, out, tf.distribute.get_strategy(), seed=seed, log=log,
                      train_steps=steps, iterations_per_loop=log_every, keep_checkpoint_max=2)
    tf.config.experimental.reset_memory_stats("CPU:0")
    live = tf.config.experimental.get_memory_info("CPU:0")["current"]  # the model, optimizer, anything older
    start = trainer.latest_step()
    if trainer.train(steps, save_every=log_every, log_every=log_every) > start:
        with open(peaks_file, "a") as f:  # this process's training peak, kept across resumes
            f.write(f"{(tf.config.experimental.get_memory_info('CPU:0')['peak'] - live) / 2**20}\n")
    metrics = trainer.evaluate(eval_steps=0)
    rates, peaks = _numbers(rates_file), _numbers(peaks_file)
    result = dict(run=run_name, seed=seed, steps=steps, **{k: float(v) for k, v in metrics.items()},
                  steps_per_s=steady_rate(rates), peak_mb=max(peaks) if peaks else None,
                  params=int(sum(math.prod(w.shape) for w in trainer.model.trainable_weights)),
                  wall_s=time.time() - began)
    with open(done + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(done + ".tmp", done)
    progress.finished(run_name, result["wall_s"], 1)
    return result


def _numbers(path):
    """The numbers in `path`, one per line ([] when it does not exist)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [float(line) for line in f if line.strip()]


def hparams_with(base, **overrides):
    hp = registry.hparams(base)
    hp.override_from_dict(overrides)
    return hp


def summarize(results, metrics):
    """Per run name (in first-seen order): mean, spread (max - min over seeds) and seeds of each
    metric in `metrics` and of the cost columns."""
    names = list(dict.fromkeys(r["run"] for r in results))
    rows = []
    for name in names:
        mine = [r for r in results if r["run"] == name]
        row = dict(run=name, seeds=[r["seed"] for r in mine])
        for key in list(metrics) + ["steps_per_s", "peak_mb", "params"]:
            values = [r[key] for r in mine if r.get(key) is not None]
            if values:
                row[key] = statistics.mean(values)
                row[key + "_spread"] = max(values) - min(values)
                row[key + "_seeds"] = len(values)
        rows.append(row)
    return rows


def cell(row, key, digits=3, scale=1.0):
    if key not in row:
        return "-"
    text = f"{row[key] * scale:.{digits}f}"
    if row[key + "_seeds"] > 1:  # a measure some seeds' runs lack has fewer values than seeds
        text += f" ± {row[key + '_spread'] * scale / 2:.{digits}f}"
    return text


def markdown_table(rows, columns, paper=None, paper_header="paper"):
    """`columns`: (header, key, digits, scale); `paper`: run name -> the paper's figure (text).
    With several seeds a cell reads `mean ± half the range`."""
    header = ["model"] + [c[0] for c in columns] + ["train steps/s", "peak MiB"] + ([paper_header] if paper else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["run"]] + [cell(row, key, digits, scale) for _, key, digits, scale in columns]
        cells += [cell(row, "steps_per_s", 2), cell(row, "peak_mb", 0)]
        if paper:
            cells.append(paper.get(row["run"], "-"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_outputs(prefix, study, args, config, results, table, plot):
    """Writes `<prefix>.json` (config, every run, total wall time), `<prefix>.md` (the table under
    a line with steps, seeds and wall time) and `<prefix>.png` (`plot(pyplot)` draws it), and
    prints the table."""
    os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    wall = sum(r.get("wall_s", 0.0) for r in results)
    with open(prefix + ".json", "w") as f:
        json.dump(dict(study=study, steps=args.steps, seeds=args.seeds, quick=args.quick, wall_s=wall, config=config,
                       runs=results), f, indent=1)
    table = (f"{args.steps} steps per run, seeds {args.seeds}{' (--quick)' if args.quick else ''}; "
             f"training + evaluation wall time {wall / 60:.1f} min in all.\n\n{table}")
    with open(prefix + ".md", "w") as f:
        f.write(table + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = plot(plt)
    figure.tight_layout()
    figure.savefig(prefix + ".png", dpi=110)
    plt.close(figure)
    print(table, flush=True)
    print(f"wrote {prefix}.json, {prefix}.md, {prefix}.png", flush=True)


def bar_plot(plt, rows, panels, title):
    """One panel per (label, key, scale): a bar per model with the seed spread as error bars, and
    a last panel with training steps/s and peak memory."""
    figure, axes = plt.subplots(1, len(panels) + 1, figsize=(4.2 * (len(panels) + 1), 4.2))
    names = [r["run"] for r in rows]
    for ax, (label, key, scale) in zip(axes, panels):
        values = [r.get(key, float("nan")) * scale for r in rows]
        errors = [r.get(key + "_spread", 0.0) * scale / 2 for r in rows]
        ax.bar(range(len(rows)), values, yerr=errors, color="tab:blue", capsize=3)
        ax.set_title(label)
        ax.set_xticks(range(len(rows)), names, rotation=60, ha="right", fontsize=8)
    ax = axes[-1]
    ax.bar(range(len(rows)), [r.get("steps_per_s") or 0 for r in rows], color="tab:green")
    ax.set_ylabel("train steps/s", color="tab:green")
    ax.set_xticks(range(len(rows)), names, rotation=60, ha="right", fontsize=8)
    twin = ax.twinx()
    twin.plot(range(len(rows)), [r.get("peak_mb", float("nan")) for r in rows], "o", color="tab:red")
    twin.set_ylabel("peak MiB", color="tab:red")
    ax.set_title("cost")
    figure.suptitle(title)
    return figure
