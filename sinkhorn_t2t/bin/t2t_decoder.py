"""t2t-decoder: greedy / beam-search decoding from --decode_from_file or from the dev set."""
import os
import sys

import numpy as np
import tensorflow as tf

from sinkhorn_t2t.bin import common
from sinkhorn_t2t.bin.common import FLAGS, UsageError
from sinkhorn_t2t.bin.t2t_trainer import build_trainer
from sinkhorn_t2t.data import text_encoder
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


def _read_lines(path):
    """The non-blank lines of `--decode_from_file` as `(line number, text)`; an empty file is an error."""
    try:
        with open(os.path.expanduser(path)) as f:
            lines = [(number, line.rstrip("\n")) for number, line in enumerate(f, 1) if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"--decode_from_file {path}: {getattr(err, 'strerror', None) or err}.") from None
    if not lines:
        raise UsageError(f"--decode_from_file {path} is empty: nothing to decode (one input per line).")
    return lines


def encode_lines(lines, encoder, vocab_size):
    """Encodes `(line number, text)` pairs, checking every id against the model's vocabulary before
    the model sees it: a line that cannot be encoded, or an id outside the vocabulary, is a usage
    error naming the line, the id and the vocabulary size."""
    reserved = encoder.num_reserved_ids if type(encoder) in (text_encoder.TextEncoder,
                                                             text_encoder.RawIntEncoder) else 0
    rows = []
    for number, line in lines:
        try:
            ids = encoder.encode(line)
        except ValueError as err:
            raise UsageError(f"--decode_from_file line {number}: cannot encode {line[:80]!r} ({err})") from None
        for i in ids:
            if not reserved <= i < vocab_size:
                shown = i - reserved
                raise UsageError(
                    f"--decode_from_file line {number}: id {shown} is outside the vocabulary of {vocab_size} ids "
                    f"(valid ids: 0..{vocab_size - reserved - 1}" + (f", after {reserved} reserved" if reserved else "")
                    + ").")
        rows.append(ids)
    return rows


def fit_to_model(rows, max_length, names):
    """Cuts rows longer than the model's length (keeping a final EOS), with a warning for each."""
    fitted = []
    for row, name in zip(rows, names):
        if len(row) > max_length:
            print(f"{common.tool_name()}: warning: {name} has {len(row)} ids, more than the model's length "
                  f"{max_length}: cut to {max_length}", file=sys.stderr, flush=True)
            row = row[:max_length - 1] + [EOS_ID] if row[-1] == EOS_ID else row[:max_length]
        fitted.append(row)
    return fitted


def _texts(encoder, outputs):
    """Decoded ids -> text; all beams of a row (`return_beams`) are joined by tabs, as in T2T."""
    return ["\t".join(encoder.decode(b) for b in o) if np.ndim(o) == 2 else encoder.decode(o) for o in outputs]


def _decode_rows(decoder, model, rows, has_inputs, hp):
    """Decodes feature rows (inputs for seq2seq / classification, prompts for LMs) in batches of
    `hp.batch_size`; LM prompts are batched with prompts of the same length."""
    if not has_inputs:
        outputs = [None] * len(rows)
        for length in sorted({len(r) for r in rows}):
            same = [i for i, r in enumerate(rows) if len(r) == length]
            for start in range(0, len(same), hp.batch_size):
                chunk = same[start:start + hp.batch_size]
                prefix = np.array([rows[i] for i in chunk], np.int32) if length else None
                for i, out in zip(chunk, decoder.decode(prefix=prefix, hp=hp, batch=len(chunk))):
                    outputs[i] = out
        return outputs
    outputs = []
    for start in range(0, len(rows), hp.batch_size):
        batch = _pad(rows[start:start + hp.batch_size])
        if isinstance(model, TransformerEncoder):
            logits = model({"inputs": tf.constant(batch)}, training=False)
            outputs.extend([[int(c)] for c in np.argmax(logits.numpy()[:, 0], -1)])
        else:
            outputs.extend(decoder.decode(inputs=batch, hp=hp))
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
    if FLAGS.decode_to_file:
        common.ensure_dir(os.path.dirname(os.path.abspath(os.path.expanduser(FLAGS.decode_to_file))), "decode_to_file")
    if FLAGS.decode_from_file:
        lines = _read_lines(FLAGS.decode_from_file)
        vocab_size = trainer.problem_hparams.vocab_size["inputs" if has_inputs else "targets"]
        rows = [ids + ([EOS_ID] if has_inputs and not isinstance(model, TransformerEncoder) else [])
                for ids in encode_lines(lines, source, vocab_size)]
        rows = fit_to_model(rows, trainer.max_length, [f"--decode_from_file line {n}" for n, _ in lines])
        outputs = _decode_rows(decoder, model, rows, has_inputs, hp)
        texts = _texts(encoders["targets"], outputs)
        if FLAGS.decode_to_file:
            with open(FLAGS.decode_to_file, "w") as f:
                f.write("".join(t + "\n" for t in texts))
        for (_, line), text in zip(lines, texts):
            print(f"INPUT: {line}\nOUTPUT: {text}", flush=True)
        return
    examples = list(problem.dataset("eval", FLAGS.data_dir, trainer.hparams, shuffle_files=False)
                    .take(max(hp.num_samples, 1)).as_numpy_iterator())
    rows = [list(ex["inputs"]) if has_inputs else [] for ex in examples]
    rows = fit_to_model(rows, trainer.max_length, [f"dev example {i + 1}" for i in range(len(rows))])
    outputs = _decode_rows(decoder, model, rows, has_inputs, hp)
    targets = [list(ex["targets"]) for ex in examples]
    texts = _texts(encoders["targets"], outputs)
    for row, text, target in zip(rows, texts, targets):
        if has_inputs:
            print(f"INPUT: {source.decode(row)}")
        print(f"OUTPUT: {text}\nTARGET: {encoders['targets'].decode(target)}", flush=True)
    if has_inputs:
        exact, distance = sequence_scores([o[0] if np.ndim(o) == 2 else o for o in outputs], targets)
        print(f"decoded {len(outputs)} dev examples (free-running decodes, not the teacher-forced eval metrics): "
              f"decode_exact_match = {exact:.4f}  decode_edit_distance = {distance:.4f}",
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
