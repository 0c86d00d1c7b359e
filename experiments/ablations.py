"""Study 3 (paper Table 8, Figures 3-4): Sinkhorn ablations on study 2's character LM.

Usage: python experiments/ablations.py [--steps 1200] [--seeds 1 2] [--quick] [--work_dir DIR] [--out PREFIX]

Study 2's setting (pydoc corpus, packed rows of 512, 64-character blocks, causal Sinkhorn,
`transformer_tiny`), changing one thing at a time from the defaults (linear SortNet, separate K
and V, 5 Sinkhorn iterations, temperature 0.75, `combine="concat"`):
  - the four SortNet variants of Table 8 (1)-(4), K = V (5), N_k = 0, no balancing (6);
  - temperature in {0.25, 0.5, 0.75, 1.0} (Figure 3) and iterations in {2, 5, 10, 20} (Figure 4);
  - the three readings of how the local and the sorted block join (`combine`): one softmax over
    both blocks' keys ("concat"), summed keys and values scored once ("sum_scores"), or two
    attentions whose outputs are added ("sum_outputs").
Settings that equal the defaults are one run, shown in every group it belongs to; at study 2's
steps and seeds (the defaults of both) that run is study 2's Sinkhorn run, read back when study 2
ran first in the same work dir. Metric: held-out bits per character (the paper reports LM1B
subword perplexity for Table 8).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from experiments import char_lm, common  # noqa: E402

STUDY = "ablations"
# (group, setting, hparams overrides from the Sinkhorn defaults)
ROWS = [
    ("SortNet (Table 8)", "(1) relu(F2(relu(F1(X))))", {"sinkhorn_sort_net": "mlp_relu"}),
    ("SortNet (Table 8)", "(2) F2(relu(F1(X)))", {"sinkhorn_sort_net": "mlp"}),
    ("SortNet (Table 8)", "(3) relu(F1(X))", {"sinkhorn_sort_net": "linear_relu"}),
    ("SortNet (Table 8)", "(4) F1(X) [default]", {}),
    ("SortNet (Table 8)", "(5) K = V", {"sinkhorn_share_kv": True}),
    ("SortNet (Table 8)", "(6) N_k = 0", {"sinkhorn_iters": 0}),
    ("temperature (Fig. 3)", "0.25", {"sinkhorn_temperature": 0.25}),
    ("temperature (Fig. 3)", "0.5", {"sinkhorn_temperature": 0.5}),
    ("temperature (Fig. 3)", "0.75 [default]", {}),
    ("temperature (Fig. 3)", "1.0", {"sinkhorn_temperature": 1.0}),
    ("iterations (Fig. 4)", "2", {"sinkhorn_iters": 2}),
    ("iterations (Fig. 4)", "5 [default]", {}),
    ("iterations (Fig. 4)", "10", {"sinkhorn_iters": 10}),
    ("iterations (Fig. 4)", "20", {"sinkhorn_iters": 20}),
    ("combine", "concat [default]", {}),
    ("combine", "sum_scores", {"sinkhorn_combine": "sum_scores"}),
    ("combine", "sum_outputs", {"sinkhorn_combine": "sum_outputs"}),
]
PAPER_BY_SETTING = {"(1) relu(F2(relu(F1(X))))": "41.70", "(2) F2(relu(F1(X)))": "41.38", "(3) relu(F1(X))": "41.34",
                    "(4) F1(X) [default]": "41.29", "(5) K = V": "42.26", "(6) N_k = 0": "52.40",
                    "0.75 [default]": "best tau (Fig. 3)", "5 [default]": "5-10 best (Fig. 4)",
                    "10": "5-10 best (Fig. 4)", "20": "worse than 5-10 (Fig. 4)"}
PAPER = {f"{group}: {setting}": PAPER_BY_SETTING[setting] for group, setting, _ in ROWS if setting in PAPER_BY_SETTING}


def run_name(overrides):
    """One run per distinct setting: `sinkhorn` for the defaults, else its overrides."""
    return "sinkhorn" if not overrides else "sinkhorn_" + "_".join(f"{k.split('_', 1)[1]}-{v}"
                                                                    for k, v in sorted(overrides.items()))


def models():
    """The distinct runs: (run name, attention type, overrides), the defaults first."""
    unique = {run_name(o): o for _, _, o in sorted(ROWS, key=lambda row: bool(row[2]))}
    return [(name, "sinkhorn", overrides) for name, overrides in unique.items()]


def table_rows(results):
    """The summary row of each (group, setting), from the run it names."""
    by_run = {row["run"]: row for row in common.summarize(results, ["bits_per_char", "accuracy"])}
    return [dict(by_run[run_name(overrides)], run=f"{group}: {setting}", setting=setting, group=group)
            for group, setting, overrides in ROWS]


def plot(plt, rows, steps):
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, group, label in ((axes[1], "temperature (Fig. 3)", "temperature tau"),
                             (axes[2], "iterations (Fig. 4)", "Sinkhorn iterations N_k")):
        mine = [r for r in rows if r["group"] == group]
        xs = [float(r["setting"].split()[0]) for r in mine]
        ax.errorbar(xs, [r["bits_per_char"] for r in mine], yerr=[r.get("bits_per_char_spread", 0) / 2 for r in mine],
                    marker="o", capsize=3)
        ax.set_xlabel(label)
        ax.set_ylabel("held-out bits/char")
        ax.set_title(group)
    others = [r for r in rows if r["group"] in ("SortNet (Table 8)", "combine")]
    ax = axes[0]
    ax.barh(range(len(others)), [r["bits_per_char"] for r in others],
            xerr=[r.get("bits_per_char_spread", 0) / 2 for r in others], capsize=3)
    ax.set_yticks(range(len(others)), [r["setting"] for r in others], fontsize=8)
    ax.set_xlim(min(r["bits_per_char"] for r in others) * 0.95, max(r["bits_per_char"] for r in others) * 1.02)
    ax.set_xlabel("held-out bits/char")
    ax.set_title("SortNet variants (Table 8) and combine")
    figure.suptitle(f"Sinkhorn ablations, character LM (pydoc corpus), {steps} steps")
    return figure


def main():
    args = common.parse_args(__doc__.split("\n")[0], steps=1200, seeds=[1, 2])
    results = char_lm.run_models(args, models(), STUDY)
    rows = table_rows(results)
    table = common.markdown_table(rows, [("held-out bits/char", "bits_per_char", 3, 1)], PAPER,
                                  "paper (Table 8: LM1B perplexity)")
    common.write_outputs(common.out_prefix(args, STUDY), STUDY, args,
                         dict(problem="experiment_pydoc_characters_packed", rows=ROWS, runs=models()), results, table,
                         lambda plt: plot(plt, rows, args.steps))


if __name__ == "__main__":
    main()
