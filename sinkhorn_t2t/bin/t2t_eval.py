"""t2t-eval: evaluate the latest (or a given) checkpoint of --output_dir on the dev (or test) split."""
from sinkhorn_t2t.bin import common
from sinkhorn_t2t.bin.common import FLAGS, UsageError
from sinkhorn_t2t.bin.t2t_trainer import build_trainer


def main():
    trainer = build_trainer(for_training=False)
    if not trainer.restore(FLAGS.checkpoint_path):
        raise UsageError(f"--output_dir {FLAGS.output_dir} has no checkpoint: train first (t2t-trainer).")
    try:
        trainer.evaluate(FLAGS.eval_steps, "test" if FLAGS.eval_use_test_set else "eval")
    except FileNotFoundError as err:
        raise UsageError(str(err)) from None


def console_main():
    common.console_entry(main)


if __name__ == "__main__":
    console_main()
