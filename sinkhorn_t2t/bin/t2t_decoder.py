"""t2t-decoder: greedy / beam-search decoding from --decode_from_file or from the dev set."""
import numpy as np
import tensorflow as tf

from sinkhorn_t2t.bin import common
from sinkhorn_t2t.bin.common import FLAGS, UsageError
from sinkhorn_t2t.bin.t2t_trainer import build_trainer
from sinkhorn_t2t.data.text_encoder import EOS_ID
from sinkhorn_t2t.models.transformer import TransformerEncoder
from sinkhorn_t2t.training.decoding import Decoder, decode_hparams


def _pad(rows):
    out = np.zeros((len(rows), max(len(r) for r in rows)), np.int32)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


def _strip(ids):
    ids = [int(i) for i in ids]
    return ids[:ids.index(EOS_ID)] if EOS_ID in ids else [i for i in ids if i]


def sequence_scores(decoded, targets):
    """(exact match rate, edit distance per reference token) over whole decoded sequences."""
    hyp = tf.ragged.constant([_strip(d) or [0] for d in decoded], dtype=tf.int64).to_sparse()
    ref = tf.ragged.constant([_strip(t) or [0] for t in targets], dtype=tf.int64).to_sparse()
    distance = tf.edit_distance(hyp, ref, normalize=False).numpy()
    exact = np.mean([_strip(d) == _strip(t) for d, t in zip(decoded, targets)])
    return float(exact), float(distance.sum() / max(sum(len(_strip(t)) for t in targets), 1))


def _decode_rows(decoder, model, rows, has_inputs, hp):
    """Decodes feature rows (inputs for seq2seq / classification, prefixes for LMs)."""
    outputs = []
    for start in range(0, len(rows), max(hp.batch_size, 1)):
        batch = rows[start:start + max(hp.batch_size, 1)]
        if isinstance(model, TransformerEncoder):
            logits = model({"inputs": tf.constant(_pad(batch))}, training=False)
            outputs.extend([[int(c)] for c in np.argmax(logits.numpy()[:, 0], -1)])
        elif has_inputs:
            outputs.extend(decoder.decode(inputs=_pad(batch), hp=hp))
        else:
            for prefix in batch:  # prompts of different lengths: one at a time
                prefix = np.array([prefix], np.int32) if prefix else None
                outputs.extend(decoder.decode(prefix=prefix, hp=hp, batch=1))
    return outputs


def main():
    trainer = build_trainer(for_training=False)
    if not trainer.restore(FLAGS.checkpoint_path):
        raise UsageError(f"--output_dir {FLAGS.output_dir} has no checkpoint: train first (t2t-trainer).")
    try:
        hp = decode_hparams(FLAGS.decode_hparams)
    except ValueError as err:
        raise UsageError(f"--decode_hparams: {err}") from None
    problem, model = trainer.problem, trainer.model
    encoders = problem.feature_encoders(FLAGS.data_dir)
    has_inputs = model.has_inputs
    decoder = Decoder(model, trainer.max_length, stop_at_eos=trainer.problem_hparams.stop_at_eos)
    source = encoders["inputs"] if has_inputs else encoders["targets"]
    if FLAGS.decode_from_file:
        try:
            with open(FLAGS.decode_from_file) as f:
                lines = [line.rstrip("\n") for line in f if line.strip()]
        except OSError as err:
            raise UsageError(f"--decode_from_file: {err}") from None
        try:
            rows = [source.encode(line) + ([EOS_ID] if has_inputs and not isinstance(model, TransformerEncoder)
                                           else []) for line in lines]
        except ValueError as err:
            raise UsageError(f"--decode_from_file: {err}") from None
        outputs = _decode_rows(decoder, model, rows, has_inputs, hp)
        texts = [encoders["targets"].decode(o) for o in outputs]
        if FLAGS.decode_to_file:
            with open(FLAGS.decode_to_file, "w") as f:
                f.write("".join(t + "\n" for t in texts))
        for line, text in zip(lines, texts):
            print(f"INPUT: {line}\nOUTPUT: {text}", flush=True)
        return
    examples = list(problem.dataset("eval", FLAGS.data_dir, trainer.hparams, shuffle_files=False)
                    .take(max(hp.num_samples, 1)).as_numpy_iterator())
    rows = [list(ex["inputs"]) if has_inputs else [] for ex in examples]
    outputs = _decode_rows(decoder, model, rows, has_inputs, hp)
    targets = [list(ex["targets"]) for ex in examples]
    texts = [encoders["targets"].decode(o) for o in outputs]
    for row, text, target in zip(rows, texts, targets):
        if has_inputs:
            print(f"INPUT: {source.decode(row)}")
        print(f"OUTPUT: {text}\nTARGET: {encoders['targets'].decode(target)}", flush=True)
    if has_inputs:
        exact, distance = sequence_scores(outputs, targets)
        print(f"decoded {len(outputs)} dev examples: exact_match = {exact:.4f}  edit_distance = {distance:.4f}",
              flush=True)
    if FLAGS.decode_to_file:
        with open(FLAGS.decode_to_file, "w") as f:
            f.write("".join(t + "\n" for t in texts))
        with open(FLAGS.decode_to_file + ".targets", "w") as f:
            f.write("".join(encoders["targets"].decode(t) + "\n" for t in targets))


def console_main():
    common.console_entry(main)


if __name__ == "__main__":
    console_main()
