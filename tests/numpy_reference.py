"""Independent NumPy references written from the paper's equations, with explicit loops.

Nothing here calls the library: each function re-derives the computation position by position,
so a test comparing against it can fail when the library's tensor code is wrong.
"""
import numpy as np


def logsumexp(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    return m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def sinkhorn(log_alpha, n_iters, mask=None):
    """Paper 3.1.1: alternate row then column normalisation; returns the balanced matrix.

    Without a mask in log space; with a bool `mask` in probability space, excluded entries held
    at 0 and empty rows or columns left at 0.
    """
    x = np.array(log_alpha, dtype=np.float64)
    if n_iters == 0:  # no balancing: each row normalised once (the N_k = 0 reading)
        p = np.exp(x - x.max(-1, keepdims=True)) * (1.0 if mask is None else mask)
        total = p.sum(-1, keepdims=True)
        return np.where(total > 0, p / np.where(total > 0, total, 1.0), 0.0)
    if mask is None:
        for _ in range(n_iters):
            x = x - logsumexp(x, -1)
            x = x - logsumexp(x, -2)
        return np.exp(x)
    p = np.where(mask, np.exp(x - x.max()), 0.0)
    for _ in range(n_iters):
        for axis in (-1, -2):
            total = p.sum(axis, keepdims=True)
            p = np.where(total > 0, p / np.where(total > 0, total, 1.0), 0.0)
    return p


def causal_sinkhorn(log_alpha, n_iters):
    """Causal balancing on a single `[N, N]` matrix, entries j < i only, written entry by entry:
    each round divides entry (i, j) by the sum of column j over rows 0..i, then normalises rows.
    Entries with `log_alpha = -inf` are excluded."""
    n = log_alpha.shape[-1]
    p = np.where(np.tril(np.ones((n, n)), -1) > 0, np.exp(np.array(log_alpha, np.float64)), 0.0)
    if n_iters == 0:  # rows normalised once over j < i
        return np.array([row / row.sum() if row.sum() > 0 else row for row in p])
    for _ in range(n_iters):
        q = np.zeros_like(p)
        for i in range(n):
            for j in range(i):
                column = sum(p[r, j] for r in range(i + 1))
                q[i, j] = p[i, j] / column if column > 0 else 0.0
        p = np.zeros_like(q)
        for i in range(1, n):
            p[i] = q[i] / q[i].sum() if q[i].sum() > 0 else 0.0  # a row with nothing allowed stays 0
    return p


def softmax_attend(query, keys, values, allowed):
    """One query vector over a list of keys; an empty allowed set gives zeros."""
    if not np.any(allowed):
        return np.zeros(values.shape[-1])
    scores = keys @ query / np.sqrt(query.shape[-1])
    scores = np.where(allowed, scores, -np.inf)
    w = np.exp(scores - scores[allowed].max())
    w = np.where(allowed, w, 0.0)
    return (w / w.sum()) @ values


def sorted_block(x, perm_row, block_size, mask=None):
    """`sum_j perm_row[j] * block_j(x)` with masked tokens zeroed; returns block and its real mass."""
    nb = len(perm_row)
    out = np.zeros((block_size, x.shape[-1]))
    mass = np.zeros(block_size)
    for j in range(nb):
        for p in range(block_size):
            real = 1.0 if mask is None else float(mask[j * block_size + p])
            out[p] += perm_row[j] * real * x[j * block_size + p]
            mass[p] += perm_row[j] * real
    return out, mass


def sinkhorn_block_attention(q, k, v, perm, block_size, causal=False, key_mask=None, combine="concat"):
    """Reference for `sinkhorn_block_attention`; q, k, v `[B, H, L, D]`, perm `[B, H, NB, NB]`."""
    bsz, heads, length, _ = q.shape
    out = np.zeros(v.shape)
    for b in range(bsz):
        mask = None if key_mask is None else key_mask[b]
        for h in range(heads):
            for t in range(length):
                i, s = divmod(t, block_size)
                row = np.array(perm[b, h, i], np.float64)
                if causal:
                    row = np.where(np.arange(len(row)) < i, row, 0.0)
                sk, mass = sorted_block(k[b, h], row, block_size, mask)
                sv, _ = sorted_block(v[b, h], row, block_size, mask)
                pos = np.arange(i * block_size, (i + 1) * block_size)
                lk, lv = k[b, h, pos], v[b, h, pos]
                local_ok = np.ones(block_size, bool) if mask is None else mask[pos].astype(bool)
                if causal:
                    local_ok &= np.arange(block_size) <= s
                sorted_ok = mass > 0
                qt = q[b, h, t]
                if combine == "concat":
                    out[b, h, t] = softmax_attend(qt, np.concatenate([lk, sk]), np.concatenate([lv, sv]),
                                                  np.concatenate([local_ok, sorted_ok]))
                elif combine == "sum_scores" and not sorted_ok.any():  # nothing sorted: local alone
                    out[b, h, t] = softmax_attend(qt, lk, lv, local_ok)
                elif combine == "sum_scores":
                    out[b, h, t] = softmax_attend(qt, lk + sk, sv, local_ok & sorted_ok)
                else:
                    out[b, h, t] = softmax_attend(qt, lk, lv, local_ok) + softmax_attend(qt, sk, sv, sorted_ok)
    return out


def sortcut_attention(q, k, v, perm, block_size, budget, key_mask=None):
    """Reference for `sortcut_attention` (paper 3.4)."""
    bsz, heads, length, _ = q.shape
    out = np.zeros(v.shape)
    for b in range(bsz):
        mask = None if key_mask is None else key_mask[b]
        for h in range(heads):
            sk, sv, ok = [], [], []
            for i in range(budget):
                kb, mass = sorted_block(k[b, h], perm[b, h, i], block_size, mask)
                vb, _ = sorted_block(v[b, h], perm[b, h, i], block_size, mask)
                sk.append(kb), sv.append(vb), ok.append(mass > 0)
            sk, sv, ok = np.concatenate(sk), np.concatenate(sv), np.concatenate(ok)
            for t in range(length):
                out[b, h, t] = softmax_attend(q[b, h, t], sk, sv, ok)
    return out


def masked_attention(q, k, v, allowed_fn, key_mask=None):
    """Brute-force dense attention where `allowed_fn(i, j)` says whether query i sees key j."""
    bsz, heads, length, _ = q.shape
    out = np.zeros(v.shape)
    for b in range(bsz):
        for h in range(heads):
            for t in range(length):
                ok = np.array([allowed_fn(t, j) and (key_mask is None or bool(key_mask[b, j]))
                               for j in range(length)])
                out[b, h, t] = softmax_attend(q[b, h, t], k[b, h], v[b, h], ok)
    return out
