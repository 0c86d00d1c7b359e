"""Hyperparameter containers: `HParams` (T2T's `--hparams` syntax, JSON) and `RangedHParams`."""
import difflib
import itertools
import json
import re

_ITEM = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\[[^\]]*\]|[^,]*)\s*(?:,|$)")


def _parse_scalar(name, text, kind):
    text = text.strip()
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered in ("true", "1"):
                return True
            if lowered in ("false", "0"):
                return False
            raise ValueError
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        raise ValueError(f"hparam {name!r} is {kind.__name__}, but got {text!r}.") from None
    return text


def _infer(text):
    """Type of a literal for a hparam that has no value yet."""
    for kind in (int, float):
        try:
            kind(text)
            return kind
        except ValueError:
            pass
    return bool if text.lower() in ("true", "false") else str


class HParams:
    """A set of named hyperparameters.

    `HParams(hidden_size=512, ...)`, attribute access, `parse("a=1,b=0.5,c=foo,d=true,e=[1,2]")`
    with values parsed to each hparam's existing type, `values()`, `to_json()` / `from_json()`.
    Unknown or mistyped names are a `ValueError` that says which and suggests close names.
    """

    def __init__(self, **kwargs):
        object.__setattr__(self, "_values", {})
        for name, value in kwargs.items():
            self.add_hparam(name, value)

    def add_hparam(self, name, value):
        if name in self._values:
            raise ValueError(f"hparam {name!r} already exists; use set_hparam.")
        self._values[name] = value

    def _unknown(self, name):
        close = difflib.get_close_matches(name, self._values, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        return ValueError(f"unknown hparam {name!r}.{hint}")

    def set_hparam(self, name, value):
        if name not in self._values:
            raise self._unknown(name)
        old = self._values[name]
        if old is not None and value is not None and not isinstance(value, type(old)):
            if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            elif not (isinstance(old, (list, tuple)) and isinstance(value, (list, tuple))):
                raise ValueError(f"hparam {name!r} is {type(old).__name__}, got {value!r}.")
        self._values[name] = value

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"HParams has no hparam {name!r}") from None

    def __setattr__(self, name, value):
        if name in self._values:
            self.set_hparam(name, value)
        else:
            self.add_hparam(name, value)

    def __contains__(self, name):
        return name in self._values

    def get(self, name, default=None):
        return self._values.get(name, default)

    def del_hparam(self, name):
        self._values.pop(name, None)

    def values(self):
        return dict(self._values)

    def copy(self):
        return HParams(**json.loads(self.to_json()))

    def parse(self, text):
        """Applies T2T `--hparams` overrides: `name=value` items separated by commas."""
        text = (text or "").strip()
        pos = 0
        while pos < len(text):
            match = _ITEM.match(text, pos)
            if not match or match.end() == pos:
                raise ValueError(f"cannot parse hparams {text[pos:]!r}: expected name=value[,name=value...].")
            name, raw = match.group(1), match.group(2).strip()
            if name not in self._values:
                raise self._unknown(name)
            old = self._values[name]
            if raw.startswith("["):
                items = [s for s in raw[1:-1].split(",") if s.strip()]
                kind = type(old[0]) if old else (_infer(items[0].strip()) if items else str)
                value = [_parse_scalar(name, s, kind) for s in items]
            else:
                kind = type(old) if old is not None else _infer(raw)
                value = _parse_scalar(name, raw, kind)
            self._values[name] = value
            pos = match.end()
        return self

    def override_from_dict(self, values):
        for name, value in values.items():
            self.set_hparam(name, value)
        return self

    def to_json(self, **kwargs):
        return json.dumps(self._values, sort_keys=True, **kwargs)

    @classmethod
    def from_json(cls, text):
        return cls(**json.loads(text))

    def __eq__(self, other):
        return isinstance(other, HParams) and self.to_json() == other.to_json()

    def __repr__(self):
        return f"HParams({self.to_json()})"


class RangedHParams:
    """Search ranges for hyperparameters (T2T `register_ranged_hparams`)."""

    LINEAR_SCALE, LOG_SCALE, REVERSE_LOG_SCALE = 1, 2, 3

    def __init__(self):
        self.ranges = {}

    def set_discrete(self, name, values):
        self.ranges[name] = ("discrete", list(values))

    def set_categorical(self, name, values):
        self.ranges[name] = ("categorical", list(values))

    def set_float(self, name, low, high, scale=LINEAR_SCALE):
        self.ranges[name] = ("float", (low, high, scale))

    def set_int(self, name, low, high, scale=LINEAR_SCALE):
        self.ranges[name] = ("int", (low, high, scale))

    def grid(self):
        """Every combination of the discrete and categorical ranges, as `--hparams` strings."""
        names = [n for n, (kind, _) in self.ranges.items() if kind in ("discrete", "categorical")]
        values = [self.ranges[n][1] for n in names]
        return [",".join(f"{n}={v}" for n, v in zip(names, combo)) for combo in itertools.product(*values)]
