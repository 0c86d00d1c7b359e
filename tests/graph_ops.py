"""Naming traced ops for the tests' dtype checks."""


def attention_op_kind(op):
    """An op's type, as "softmax_pair/<type>" inside `sinkhorn_t2t.ops.softmax_pair` (its name
    scope, uniquified "softmax_pair_1", ... when called again in one scope)."""
    scopes = op.name.split("/")[:-1]
    inside = any(scope == "softmax_pair" or scope.startswith("softmax_pair_") for scope in scopes)
    return ("softmax_pair/" if inside else "") + op.type
