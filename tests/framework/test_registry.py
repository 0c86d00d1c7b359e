import importlib.util
import sys

import pytest

from sinkhorn_t2t import registry
from sinkhorn_t2t.hparam import HParams
from sinkhorn_t2t.registry import Registry


@pytest.mark.parametrize("name,expected", [
    ("SentimentIMDB", "sentiment_imdb"), ("SentimentSSTBinary", "sentiment_sst_binary"),
    ("StanfordNLI", "stanford_nli"), ("MultiNLI", "multi_nli"),
    ("LanguagemodelLm1b32kPacked", "languagemodel_lm1b32k_packed"),
    ("ImageCifar10PlainGenFlat", "image_cifar10_plain_gen_flat"),
    ("AlgorithmicSortProblem", "algorithmic_sort_problem"), ("transformer_base", "transformer_base"),
])
def test_default_names_are_t2t_snake_case(name, expected):
    assert registry.default_name(type(name, (), {})) == expected


def test_register_with_and_without_a_name_and_lookup():
    reg = Registry("thing")

    @reg.register
    class MyThing:
        pass

    @reg.register("other_name")
    def fn():
        return 1

    assert reg["my_thing"] is MyThing and MyThing.REGISTERED_NAME == "my_thing"
    assert reg["other_name"] is fn
    assert reg.names() == ["my_thing", "other_name"]


def test_registering_a_different_object_under_a_taken_name_is_an_error():
    reg = Registry("thing")
    reg.register("x")(lambda: 1)
    with pytest.raises(KeyError, match="already registered"):
        reg.register("x")(lambda: 2)


def test_importing_the_same_usr_module_twice_does_not_crash(tmp_path):
    (tmp_path / "mod.py").write_text(
        "from sinkhorn_t2t.registry import register_hparams\n"
        "from sinkhorn_t2t.hparams.transformer import transformer_test\n"
        "@register_hparams\n"
        "def twice_imported_set():\n"
        "    return transformer_test()\n")
    for alias in ("usr_a", "usr_b"):  # the same file under two module names
        spec = importlib.util.spec_from_file_location(alias, tmp_path / "mod.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[alias] = module
        spec.loader.exec_module(module)
    assert registry.hparams("twice_imported_set").hidden_size == 32


def test_unknown_names_suggest_close_registered_ones():
    with pytest.raises(LookupError, match="Did you mean: algorithmic_sort_problem"):
        registry.problem("algorithmic_sort_problm")
    with pytest.raises(LookupError, match="transformer_tiny"):
        registry.hparams("transformer_tiyn")


def test_hparams_lookup_returns_a_new_object_each_time():
    a, b = registry.hparams("transformer_base"), registry.hparams("transformer_base")
    a.hidden_size = 7
    assert b.hidden_size == 512


def test_hparams_set_returning_none_is_a_clear_error():
    registry.register_hparams("returns_none_set")(lambda: None)
    with pytest.raises(TypeError, match="return hparams"):
        registry.hparams("returns_none_set")


def test_problem_suffixes_and_invalid_names():
    rev = registry.problem("algorithmic_sort_problem_rev")
    assert rev.name == "algorithmic_sort_problem_rev" and rev.dataset_filename() == "algorithmic_sort_problem"
    with pytest.raises(ValueError, match="_rev"):
        registry.register_problem("bad_rev")(type("Bad", (), {}))


def test_ranged_hparams_take_one_argument_and_expand_to_the_paper_grid():
    with pytest.raises(ValueError, match="one argument"):
        registry.register_ranged_hparams("bad_range")(lambda a, b: None)
    grid = registry.ranged_hparams("sinkhorn_tuning_grid").grid()
    assert len(grid) == 16
    assert "sinkhorn_temperature=0.25,sinkhorn_iters=20" in grid
    for overrides in grid:
        HParams(sinkhorn_temperature=0.75, sinkhorn_iters=5).parse(overrides)


def test_help_string_lists_every_registry():
    text = registry.help_string()
    for part in ("models", "hparams sets", "problems", "algorithmic_sort_problem", "sort_sinkhorn_32"):
        assert part in text
