"""Sinkhorn balancing and Gumbel-Sinkhorn (paper sections 3.1.1, 3.2.1 and 3.3.2).

All work happens in float32 and in log space, whatever the input dtype: under a mixed
precision policy the balancing stays exact enough to be doubly stochastic.
"""
import tensorflow as tf

from sinkhorn_t2t.ops.random import uniform

# Log-value given to excluded entries. Finite (unlike -inf) so that a row or column with
# nothing allowed never produces inf - inf = NaN in values or gradients; exp() of it is 0.
MASKED_LOG_VALUE = -1e9


def allowed_entries(shape_like, mask=None, causal=False):
    """Boolean `[..., N, N]` support of the sorting matrix, or None when all is allowed.

    `causal=True` keeps only entries `j < i` (block i may take content from earlier blocks).
    """
    if causal:
        n = shape_like.shape[-1] if shape_like.shape[-1] is not None else tf.shape(shape_like)[-1]
        rows = tf.range(n)[:, None]
        cols = tf.range(n)[None, :]
        lower = cols < rows
        return lower if mask is None else tf.logical_and(tf.cast(mask, tf.bool), lower)
    return None if mask is None else tf.cast(mask, tf.bool)


def _exclusion_bias(allowed):
    """float32 0 where `allowed`, `MASKED_LOG_VALUE` elsewhere (None for None)."""
    return None if allowed is None else tf.where(allowed, 0.0, MASKED_LOG_VALUE)


def _normalize(x, bias, axis):
    """Subtracts the log-sum-exp over `axis` (one fused op), then adds `bias` (see
    `_exclusion_bias`): excluded entries come in at or below `MASKED_LOG_VALUE`, so they weigh
    exactly 0 in the sum, and leave below it. Adding a small broadcast bias instead of two
    full-size selects keeps no mask for the gradient and half the ops."""
    x = tf.nn.log_softmax(x, axis=axis)
    return x if bias is None else x + bias


def _shifted(x, axis, shift, fill):
    """`x` moved `shift` places along `axis` (later for shift > 0, earlier for < 0), `fill` where
    nothing moved in."""
    n, rank = x.shape[axis], x.shape.rank
    begin, size, pad = [0] * rank, [-1] * rank, [[0, 0]] * rank
    size[axis] = n - abs(shift)
    if shift > 0:
        pad[axis] = [shift, 0]
    else:
        begin[axis], pad[axis] = -shift, [0, -shift]
    return tf.pad(tf.slice(x, begin, size), pad, constant_values=fill)


def running_logsumexp(x, axis=-2):
    """Inclusive cumulative log-sum-exp along `axis` (a static length n), as a log2(n)-step
    doubling scan (Hillis and Steele 1986) of elementwise ops.

    Same values as `tf.math.cumulative_logsumexp`, which is slower here and which XLA lowers to
    a quadratic reduce-window (about 14x slower compiled at n = 256). The gradient is a second
    doubling scan that needs only `x` and the result, not the scan's intermediate steps.
    """
    x = tf.convert_to_tensor(x)
    axis = axis % x.shape.rank
    n = x.shape[axis]

    @tf.custom_gradient
    def scan(x):
        y, shift = x, 1
        while shift < n:
            earlier = _shifted(y, axis, shift, MASKED_LOG_VALUE)
            top = tf.maximum(y, earlier)
            y = top + tf.math.softplus(tf.minimum(y, earlier) - top)  # log(e^y + e^earlier)
            shift *= 2

        def grad(upstream):
            # dx[r] = sum_{i >= r} g[i] exp(x[r] - y[i]) = exp(x[r] - y[r]) h[r], with
            # h[r] = sum_{i >= r} g[i] exp(y[r] - y[i]): every factor is <= 1 (y never decreases).
            # A loop, not unrolled steps: XLA would fuse the cheap unrolled steps into one kernel
            # that recomputes each step once per later step (2^log2(n) times).
            position = tf.reshape(tf.range(n), [n] + [1] * (x.shape.rank - axis - 1))

            def later(t, shift, fill):  # t[r + shift], `fill` past the end
                return tf.where(position < n - shift, tf.roll(t, -shift, axis), fill)

            def step(shift, h):
                decay = tf.exp(tf.minimum(y - later(y, shift, -MASKED_LOG_VALUE), 0.0))
                return shift * 2, h + decay * later(h, shift, 0.0)

            # One step at a time: the decays need only `y`, and with parallel iterations every
            # step's decay would be computed (and held) at once, 4x the memory.
            _, h = tf.while_loop(lambda shift, h: shift < n, step, (tf.constant(1), upstream),
                                 parallel_iterations=1)
            return tf.exp(tf.minimum(x - y, 0.0)) * h

        return y, grad

    return scan(x)


def _normalize_columns_causal(x, bias):
    """Causal column normalisation: row i divides by column sums over rows 0..i only (`bias` and
    excluded entries as in `_normalize`)."""
    running = running_logsumexp(x, axis=-2) if x.shape[-2] is not None else tf.math.cumulative_logsumexp(x, axis=-2)
    return x - running + bias


def sinkhorn(log_alpha, n_iters, mask=None, causal=False):
    """Log-space Sinkhorn balancing over the last two axes (paper 3.1.1, causal: 3.3.2).

    Non-causal: `n_iters` rounds of row then column normalisation, `S^k = F_c(F_r(S^{k-1}))`;
    the result tends to a doubly stochastic matrix.

    Causal (3.3.2): the paper's mask M (eq. 6) hides the future during normalisation. Here the
    support is strictly `j < i` (block i takes content only from earlier, complete blocks; its
    own block is its local block), and each round first divides entry (i, j) by the sum of
    column j over rows 0..i only (a cumulative column sum), then normalises rows. So row i
    depends on rows <= i only, every row i >= 1 sums to 1 (a convex combination of earlier
    blocks) and row 0 is all zero.

    `n_iters=0` (Table 8, "N_k = 0"): no balancing. `S^0 = exp(R)` itself is unbounded (4.5e25
    on LayerNorm'd inputs), so each row is normalised once instead (a softmax over its allowed
    entries): every sorted block is then a convex combination of input blocks, as after
    balancing, but columns are not constrained. Causal rows stay causal.

    Args:
      log_alpha: `[..., N, N]` float logits.
      n_iters: Python int >= 0, number of balancing rounds.
      mask: optional bool `[..., N, N]` (broadcastable), True = entry allowed.
      causal: bool, causal Sinkhorn balancing.

    Returns:
      `[..., N, N]` float32 log of the balanced matrix. Excluded entries are
      `MASKED_LOG_VALUE`, so `exp` gives exactly 0 there; a row or column with nothing
      allowed is all zero after `exp`, never NaN.
    """
    if not isinstance(n_iters, int) or isinstance(n_iters, bool) or n_iters < 0:
        raise ValueError(f"sinkhorn: `n_iters` must be an int >= 0, got {n_iters!r}.")
    x = tf.cast(log_alpha, tf.float32)
    if x.shape.rank is not None and x.shape.rank < 2:
        raise ValueError(f"sinkhorn: `log_alpha` must have shape [..., N, N], got {x.shape}.")
    allowed = allowed_entries(x, mask, causal)
    bias = _exclusion_bias(allowed)
    if allowed is not None:
        x = tf.where(allowed, x, MASKED_LOG_VALUE)
    if n_iters == 0:
        x = _normalize(x, bias, axis=-1)
    for _ in range(n_iters):
        if causal:
            x = _normalize_columns_causal(x, bias)
            x = _normalize(x, bias, axis=-1)
        else:
            x = _normalize(x, bias, axis=-1)
            x = _normalize(x, bias, axis=-2)
    return x if allowed is None else tf.where(allowed, x, MASKED_LOG_VALUE)


def causal_sinkhorn_row(log_row, row_index, column_lse, n_iters):
    """Row i of causal balancing from the rows before it: the incremental form of
    `sinkhorn(..., causal=True)` (3.3.2), for decoding one block at a time.

    Causal balancing divides entry (i, j) by the sum of column j over rows 0..i only, so row i
    needs, per round, just the running log-sum-exp of each column over the earlier rows.

    Args:
      log_row: `[..., N]` logits of row i (temperature applied); entries j < i are allowed.
      row_index: scalar int i.
      column_lse: `[..., max(n_iters, 1), N]` float32, per round the log-sum-exp of each column's
        round input over rows < i (start: `MASKED_LOG_VALUE` everywhere).
      n_iters: Python int >= 0, as in `sinkhorn` (0: the row is normalised once).

    Returns:
      `(log_row, column_lse)`: float32 `[..., N]` log of row i of the balanced matrix (equal to
      row i of `sinkhorn(..., causal=True)`), and the running sums including row i.
    """
    x = tf.cast(log_row, tf.float32)
    n = x.shape[-1] if x.shape[-1] is not None else tf.shape(x)[-1]
    allowed = tf.range(n) < row_index
    bias = _exclusion_bias(allowed)
    x = tf.where(allowed, x, MASKED_LOG_VALUE)
    if n_iters == 0:
        return tf.where(allowed, _normalize(x, bias, axis=-1), MASKED_LOG_VALUE), column_lse
    sums = []
    for k in range(n_iters):
        running = tf.math.reduce_logsumexp(tf.stack([column_lse[..., k, :], x]), axis=0)
        sums.append(running)
        x = _normalize(x - running + bias, bias, axis=-1)
    return tf.where(allowed, x, MASKED_LOG_VALUE), tf.stack(sums, axis=-2)


def sample_gumbel(shape, seed=None):
    """Standard i.i.d. Gumbel noise `-log(-log(u))`, u ~ U(0, 1), float32 of `shape`.

    `seed` is anything `keras.random` takes: None, an int or a `keras.random.SeedGenerator`.
    """
    tiny = 1e-20
    u = uniform(shape, seed=seed)
    return -tf.math.log(-tf.math.log(u + tiny) + tiny)


def gumbel_sinkhorn(log_alpha, temperature, n_iters, noise=True, mask=None, causal=False, seed=None):
    """Gumbel-Sinkhorn `S((X + eps) / tau)` (paper 3.2.1).

    Args:
      log_alpha: `[..., N, N]` float logits X.
      temperature: tau > 0; lower is closer to a hard permutation.
      n_iters: Sinkhorn rounds, see `sinkhorn`.
      noise: Python bool, add Gumbel noise eps (use it only in training).
      mask, causal: see `sinkhorn`.
      seed: seed for the noise (None, int or `keras.random.SeedGenerator`).

    Returns:
      `[..., N, N]` float32 log of the balanced matrix.
    """
    if isinstance(temperature, (int, float)) and not temperature > 0:
        raise ValueError(f"gumbel_sinkhorn: `temperature` must be > 0, got {temperature!r}.")
    x = tf.cast(log_alpha, tf.float32)
    if noise:
        x = x + sample_gumbel(tf.shape(x), seed=seed)
    return sinkhorn(x / temperature, n_iters, mask=mask, causal=causal)
