import pytest

from sinkhorn_t2t.hparam import HParams


def _hp():
    return HParams(hidden_size=512, dropout=0.1, name="adam", flag=True, dims=[1, 2], maybe=None)


def test_parse_uses_each_hparams_type():
    hp = _hp().parse("hidden_size=64, dropout=1, name=adafactor,flag=false,dims=[3,4,5],maybe=0.5")
    assert hp.values() == dict(hidden_size=64, dropout=1.0, name="adafactor", flag=False, dims=[3, 4, 5], maybe=0.5)
    assert isinstance(hp.dropout, float)


@pytest.mark.parametrize("text,match", [
    ("hiden_size=3", "unknown hparam 'hiden_size'. Did you mean hidden_size"),
    ("hidden_size=0.5", "hidden_size"),
    ("flag=maybe", "flag"),
    ("hidden_size", "name=value"),
])
def test_bad_overrides_are_clear_errors(text, match):
    with pytest.raises(ValueError, match=match):
        _hp().parse(text)


def test_json_round_trip_and_copy():
    hp = _hp().parse("hidden_size=8")
    again = HParams.from_json(hp.to_json())
    assert again == hp and again.values() == hp.values()
    clone = hp.copy()
    clone.hidden_size = 9
    assert hp.hidden_size == 8


def test_set_hparam_checks_the_type():
    hp = _hp()
    with pytest.raises(ValueError, match="hidden_size"):
        hp.hidden_size = "big"
    hp.dropout = 0  # ints widen to float
    assert hp.dropout == 0.0
