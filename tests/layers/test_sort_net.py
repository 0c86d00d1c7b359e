import numpy as np
import pytest

from sinkhorn_t2t.layers import SORT_VARIANTS, SortNet


def _blocks(rng, batch=2, nb=4, b=3, d=5):
    x = rng.normal(size=(batch, nb, b, d)).astype("float32")
    mask = rng.random(size=(batch, nb, b)) > 0.3
    return x, mask


def test_summary_is_the_sum_of_real_tokens(rng):
    x, mask = _blocks(rng)
    net = SortNet(4)
    expected = np.einsum("bnpd,bnp->bnd", x, mask.astype("float32"))
    np.testing.assert_allclose(net.summarize(x, mask).numpy(), expected, atol=1e-5)


def test_causal_summary_is_the_cumulative_sum_up_to_each_first_token(rng):
    x, mask = _blocks(rng)
    net = SortNet(4, causal=True)
    tokens = (x * mask[..., None]).reshape(2, 12, 5)
    expected = np.stack([tokens[:, :i * 3 + 1].sum(1) for i in range(4)], axis=1)  # eq. 5
    np.testing.assert_allclose(net.summarize(x, mask).numpy(), expected, atol=1e-5)


def _relu(z):
    return np.maximum(z, 0.0)


@pytest.mark.parametrize("variant", SORT_VARIANTS)
def test_variants_follow_table_8(rng, variant):
    x, mask = _blocks(rng)
    net = SortNet(4, variant=variant, num_heads=3)
    logits = net(x, mask=mask).numpy()
    assert logits.shape == (2, 3, 4, 4) and logits.dtype == np.float32
    s = np.einsum("bnpd,bnp->bnd", x, mask.astype("float32"))
    w_out, b_out = net.output_kernel.numpy(), net.output_bias.numpy()
    for h in range(3):
        hidden = s
        if variant.startswith("mlp"):
            hidden = _relu(s @ net.hidden_kernel.numpy()[h] + net.hidden_bias.numpy()[h])
        expected = hidden @ w_out[h] + b_out[h]
        if variant.endswith("relu"):
            expected = _relu(expected)
        np.testing.assert_allclose(logits[:, h], expected, atol=1e-4)
    assert np.abs(logits[:, 0] - logits[:, 1]).max() > 1e-3  # one sort net per head


def test_width_comes_from_first_input_and_shorter_inputs_use_leading_rows(rng):
    x, mask = _blocks(rng, nb=6)
    net = SortNet(None)
    net(x, mask=mask)
    assert net.num_blocks == 6
    short = net(x[:, :4], mask=mask[:, :4]).numpy()
    s = np.einsum("bnpd,bnp->bnd", x[:, :4], mask[:, :4].astype("float32"))
    expected = s @ net.output_kernel.numpy()[0, :, :4] + net.output_bias.numpy()[0, :4]
    np.testing.assert_allclose(short[:, 0], expected, atol=1e-4)
    with pytest.raises(ValueError, match="max_length"):
        net(np.concatenate([x, x], axis=1))


@pytest.mark.parametrize("kwargs,name", [({"variant": "deep"}, "variant"), ({"num_blocks": 0}, "num_blocks"),
                                         ({"num_heads": 0}, "num_heads")])
def test_invalid_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        SortNet(**{"num_blocks": 4, **kwargs})
