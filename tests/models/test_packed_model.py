"""T2T's packed setting through the whole Transformer: for every attention type, changing one
packed example changes no other example's logits or loss."""
import numpy as np
import pytest
import tensorflow as tf

from sinkhorn_t2t import registry
from sinkhorn_t2t.data.packing import pack_examples
from sinkhorn_t2t.hparam import HParams
from sinkhorn_t2t.models.attention_factory import SELF_ATTENTION_TYPES
from sinkhorn_t2t.models.transformer import build_model
from sinkhorn_t2t.training import metrics

VOCAB, LENGTH, BLOCK = 20, 48, 4


def _examples(rng, has_inputs):
    examples = []
    for n in (7, 13, 9, 5):
        ex = {"targets": [int(t) for t in rng.integers(2, VOCAB, size=n)] + [1]}
        if has_inputs:
            ex["inputs"] = [int(t) for t in rng.integers(2, VOCAB, size=n + 2)] + [1]
        examples.append(ex)
    return examples


def _batch(rng, has_inputs, examples=None):
    examples = examples or _examples(rng, has_inputs)
    rows = list(pack_examples(iter(examples), has_inputs, packed_length=LENGTH, block_size=BLOCK))
    assert len(rows) == 1
    return {k: np.array([v], np.int32) for k, v in rows[0].items()}


def _per_token_loss(model, features):
    logits = model(features, training=False)
    return metrics.smoothed_cross_entropy(logits, tf.constant(features["targets"]), 0.1).numpy(), logits.numpy()


CASES = [(kind, True) for kind in SELF_ATTENTION_TYPES] + [(kind, False) for kind in SELF_ATTENTION_TYPES]


def _model(kind, has_inputs, **overrides):
    hp = registry.hparams("transformer_test")
    hp.override_from_dict({**dict(self_attention_type=kind, max_length=LENGTH, sinkhorn_block_size=BLOCK,
                                  sinkhorn_sort_net="mlp_relu", num_hidden_layers=2), **overrides})
    modality, sizes = {"targets": "symbol"}, {"targets": VOCAB}
    if has_inputs:
        modality["inputs"], sizes["inputs"] = "symbol", VOCAB
    return build_model("transformer", hp, HParams(modality=modality, vocab_size=sizes))


@pytest.mark.parametrize("kind,has_inputs,combine", [(k, i, "concat") for k, i in CASES] + [
    ("sinkhorn", i, c) for i in (True, False) for c in ("sum_scores", "sum_outputs")])
def test_packed_example_equals_the_example_alone(rng, kind, has_inputs, combine):
    """T2T's packed setting changes the batch, not the model: each packed example's logits and
    per-token loss equal those of the example run alone (float32, inference)."""
    model = _model(kind, has_inputs, sinkhorn_combine=combine, sinkhorn_sort_net="linear")
    examples = _examples(rng, has_inputs)
    features = _batch(rng, has_inputs, examples)
    loss, logits = _per_token_loss(model, features)
    seg = features["targets_segmentation"][0]
    for number, example in enumerate(examples, 1):
        alone = {k: np.array([v], np.int32) for k, v in example.items()}
        alone_loss, alone_logits = _per_token_loss(model, alone)
        where = seg == number
        assert where.sum() == len(example["targets"])
        np.testing.assert_allclose(logits[0, where], alone_logits[0], atol=1e-5, err_msg=f"{kind} example {number}")
        np.testing.assert_allclose(loss[0, where], alone_loss[0], atol=1e-5)


@pytest.mark.parametrize("kind,has_inputs", CASES)
def test_changing_one_packed_example_changes_no_other(rng, kind, has_inputs):
    model = _model(kind, has_inputs)
    features = _batch(rng, has_inputs)
    loss, logits = _per_token_loss(model, features)
    seg = features["targets_segmentation"][0]
    for target in (1, 2, 3):
        changed = {k: v.copy() for k, v in features.items()}
        for feature in ("inputs", "targets") if has_inputs else ("targets",):
            where = changed[f"{feature}_segmentation"][0] == target
            changed[feature][0, where] = rng.integers(2, VOCAB, size=where.sum())
        new_loss, new_logits = _per_token_loss(model, changed)
        others = (seg != target) & (seg > 0)
        np.testing.assert_allclose(new_logits[0, others], logits[0, others], atol=1e-5, err_msg=f"{kind} {target}")
        np.testing.assert_allclose(new_loss[0, others], loss[0, others], atol=1e-5)
        assert np.abs(new_logits[0, seg == target] - logits[0, seg == target]).max() > 1e-4


def test_positions_restart_and_padding_carries_no_loss(rng):
    features = _batch(rng, False)
    seg, pos = features["targets_segmentation"][0], features["targets_position"][0]
    starts = np.flatnonzero(np.diff(np.concatenate([[0], seg])) > 0)
    assert all(pos[s] == 0 for s in starts)
    weights = metrics.target_weights(tf.constant(features["targets"]), "symbol").numpy()[0]
    np.testing.assert_array_equal(weights, (seg > 0).astype("float32"))
