"""Every task of the paper: datagen from tiny files in the original release format, 10 training
steps of a tiny Sinkhorn model, evaluation with the paper's metric, decoding for LM and image."""
import os

import numpy as np
import pytest

from sinkhorn_t2t import registry
from sinkhorn_t2t.data.sources import MissingDataError
from tests.bin.tools import metrics_from, run_tool
from tests.problems import source_files as src

LM = "transformer"
CLS = "transformer_encoder"
CASES = {
    # name: (writer, model, extra hparams, metric, decode)
    "languagemodel_lm1b32k": (src.write_lm1b, LM, "max_length=64", "perplexity", True),
    "languagemodel_lm1b32k_packed": (src.write_lm1b, LM, "max_length=256", "perplexity", True),
    "languagemodel_lm1b_characters": (src.write_lm1b, LM, "max_length=256,sinkhorn_block_size=16", "bits_per_char",
                                      True),
    "languagemodel_lm1b_characters_packed": (src.write_lm1b, LM, "max_length=1024,sinkhorn_block_size=32",
                                             "bits_per_char", True),
    "image_cifar10_plain_gen_flat_rev": (src.write_cifar10, LM, "max_length=3072,sinkhorn_block_size=64,batch_size=2",
                                         "bits_per_dim", True),
    "sentiment_imdb": (src.write_imdb, CLS, "max_length=64", "accuracy", False),
    "sentiment_imdb_characters": (src.write_imdb, CLS, "max_length=256,sinkhorn_block_size=16", "accuracy", False),
    "sentiment_sst_binary": (src.write_sst2, CLS, "max_length=64", "accuracy", False),
    "sentiment_sst_binary_characters": (src.write_sst2, CLS, "max_length=256,sinkhorn_block_size=16", "accuracy",
                                        False),
    "stanford_nli": (src.write_snli, CLS, "max_length=64", "accuracy", False),
    "stanford_nli_characters": (src.write_snli, CLS, "max_length=256,sinkhorn_block_size=16", "accuracy", False),
    "multi_nli": (src.write_mnli, CLS, "max_length=64", "accuracy", False),
    "multi_nli_characters": (src.write_mnli, CLS, "max_length=256,sinkhorn_block_size=16", "accuracy", False),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_datagen_train_evaluate_and_decode(tmp_path, name):
    writer, model, hparams, metric, decode = CASES[name]
    tmp_dir, data_dir, out = tmp_path / "raw", tmp_path / "data", tmp_path / "model"
    os.makedirs(tmp_dir)
    writer(str(tmp_dir))
    datagen = run_tool("t2t-datagen", f"--problem={name}", f"--data_dir={data_dir}", f"--tmp_dir={tmp_dir}")
    assert datagen.returncode == 0, datagen.stderr[-3000:]
    common = [f"--problem={name}", f"--model={model}", "--hparams_set=transformer_test",
              f"--hparams=self_attention_type=sinkhorn,{hparams}", f"--data_dir={data_dir}", f"--output_dir={out}"]
    # The trainer evaluates once trained (schedule continuous_train_and_eval); t2t-eval itself
    # is tested in tests/bin/test_tools_end_to_end.py.
    train = run_tool("t2t-trainer", *common, "--train_steps=10", "--local_eval_frequency=10", "--log_step_count_steps=5",
                     "--eval_steps=2")
    assert train.returncode == 0, train.stderr[-3000:]
    assert "step 10/10" in train.stdout
    assert f"metrics-{name}/targets/{metric} = " in train.stdout
    results = metrics_from(train.stdout)
    if metric == "perplexity":
        assert results["perplexity"] == pytest.approx(np.exp(-results["neg_log_perplexity"]), rel=1e-4)
    elif metric in ("bits_per_char", "bits_per_dim"):
        assert results[metric] == pytest.approx(-results["neg_log_perplexity"] / np.log(2), rel=1e-4)
    else:
        assert 0.0 <= results["accuracy"] <= 1.0
    if decode:
        sampled = run_tool("t2t-decoder", f"--output_dir={out}", f"--data_dir={data_dir}",
                           "--decode_hparams=num_samples=2,extra_length=5,sampling_temp=1.0")
        assert sampled.returncode == 0, sampled.stderr[-3000:]
        outputs = [line for line in sampled.stdout.splitlines() if line.startswith("OUTPUT:")]
        # A sample may be all spaces (the commonest character after 10 steps): present, not blank.
        assert len(outputs) == 2 and all(line.startswith("OUTPUT: ") for line in outputs)
        assert any(line[len("OUTPUT: "):] for line in outputs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_missing_data_says_what_to_provide(tmp_path, name):
    os.makedirs(tmp_path / "empty")
    with pytest.raises(MissingDataError) as raised:
        registry.problem(name).generate_data(str(tmp_path / "data"), str(tmp_path / "empty"))
    assert "TFDS dataset" in str(raised.value) and f"--tmp_dir {tmp_path / 'empty'}" in str(raised.value)
    assert not os.path.exists(tmp_path / "data") or not os.listdir(tmp_path / "data")  # nothing half-written


def test_missing_data_is_one_line_from_datagen(tmp_path):
    name = "languagemodel_lm1b_characters"
    result = run_tool("t2t-datagen", f"--problem={name}", f"--data_dir={tmp_path / 'data'}",
                      f"--tmp_dir={tmp_path / 'empty'}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()
    assert len(line) == 1 and line[0].startswith(f"t2t-datagen: error: --problem={name}: {name} has no data")
    assert "TFDS dataset" in line[0] and "--tmp_dir" in line[0]


def _records(problem, data_dir, split="train"):
    return list(problem.dataset(split, str(data_dir), shuffle_files=False, preprocess=False).as_numpy_iterator())


def test_original_formats_are_read_as_released(tmp_path):
    src.write_lm1b(str(tmp_path))
    src.write_cifar10(str(tmp_path))
    src.write_snli(str(tmp_path))
    src.write_mnli(str(tmp_path))
    src.write_imdb(str(tmp_path))
    data = tmp_path / "data"
    packed = registry.problem("languagemodel_lm1b32k_packed")
    packed.generate_data(str(data), str(tmp_path))
    assert os.path.exists(data / "vocab.languagemodel_lm1b32k.32768.subwords")  # the base problem's vocabulary
    assert not any(f.startswith("vocab.languagemodel_lm1b32k_packed") for f in os.listdir(data))
    row = _records(packed, data)[0]
    assert len(row["targets"]) <= 256  # T2T's rows are not padded (60 sentences in 100 shards: one per row)
    lm = registry.problem("languagemodel_lm1b_characters")
    lm.generate_data(str(data), str(tmp_path))
    texts = [lm.feature_encoders(str(data))["targets"].decode(r["targets"]) for r in _records(lm, data)]
    assert len(texts) == 60 and not any("HELDOUT" in t for t in texts)  # shard 00000 is not training data
    words = {w for t in texts for w in t.split()}
    assert "UNK" in words and not words & {"mat", "park"}  # outside LM1B's original vocabulary
    cifar = registry.problem("image_cifar10_plain_gen_flat_rev")
    cifar.generate_data(str(data), str(tmp_path))
    images, _ = src.cifar_arrays(3, 0)  # data_batch_1
    pixels = [r["targets"] for r in _records(cifar, data)]
    assert len(pixels) == 15 and any(np.array_equal(p, images[0].reshape(-1)) for p in pixels)
    snli = registry.problem("stanford_nli")
    snli.generate_data(str(data), str(tmp_path))
    labels = [int(r["targets"][0]) for r in _records(snli, data)]
    assert len(labels) == 24  # gold label "-" skipped
    assert labels[:3] == [1, 2, 0]  # entailment, neutral, contradiction in T2T's ids
    mnli = registry.problem("multi_nli")
    mnli.generate_data(str(data), str(tmp_path))
    assert len(_records(mnli, data, "eval")) == 9  # dev matched only
    imdb = registry.problem("sentiment_imdb")
    imdb.generate_data(str(data), str(tmp_path))
    decoded = [imdb.feature_encoders(str(data))["inputs"].decode(r["inputs"]) for r in _records(imdb, data)]
    assert len(decoded) == 24 and all("<br />" in d for d in decoded)  # kept verbatim, as T2T keeps it


def test_prepared_tfds_datasets_are_used_first(tmp_path):
    words = src.sentences(16, 5)
    images, labels = src.cifar_arrays(4, 7)
    src.write_tfds(str(tmp_path), "lm1b", {"train": [{"text": w} for w in words], "test": [{"text": w} for w in words[:4]]})
    src.write_tfds(str(tmp_path), "cifar10", {
        split: [{"id": f"img_{i}", "image": images[i], "label": labels[i]} for i in range(4)] for split in ("train", "test")})
    src.write_tfds(str(tmp_path), "imdb_reviews", {
        split: [{"text": w, "label": i % 2} for i, w in enumerate(words)] for split in ("train", "test")})
    src.write_tfds(str(tmp_path), "glue/sst2", {
        split: [{"sentence": w, "label": i % 2, "idx": i} for i, w in enumerate(words)] for split in ("train", "validation")})
    for name in ("snli", "multi_nli"):
        splits = ("train", "validation") if name == "snli" else ("train", "validation_matched")
        src.write_tfds(str(tmp_path), name, {split: [{"premise": w, "hypothesis": w[::-1], "label": i % 3}
                                                     for i, w in enumerate(words)] for split in splits})
    data = tmp_path / "data"
    lm = registry.problem("languagemodel_lm1b_characters")
    with pytest.raises(FileNotFoundError, match="vocab-2016-09-10.txt.en"):  # T2T's UNK list, TFDS lacks it
        lm.generate_data(str(data), str(tmp_path))
    (tmp_path / "vocab-2016-09-10.txt.en").write_text("\n".join(src.LM1B_VOCAB) + "\n")
    lm.generate_data(str(data), str(tmp_path))
    expected = sorted(" ".join(w if w in src.LM1B_VOCAB else "UNK" for w in s.split()) for s in words)
    assert sorted(lm.feature_encoders(str(data))["targets"].decode(r["targets"]) for r in _records(lm, data)) == expected
    cifar = registry.problem("image_cifar10_plain_gen_flat_rev")
    cifar.generate_data(str(data), str(tmp_path))
    assert any(np.array_equal(r["targets"], images[0].reshape(-1)) for r in _records(cifar, data))
    for name, count in (("sentiment_imdb", 16), ("sentiment_sst_binary", 16)):
        problem = registry.problem(name)
        problem.generate_data(str(data), str(tmp_path))
        assert len(_records(problem, data)) == count
    snli = registry.problem("stanford_nli")
    snli.generate_data(str(data), str(tmp_path))
    assert [int(r["targets"][0]) for r in _records(snli, data)][:3] == [1, 2, 0]  # TFDS ids mapped to T2T's
    mnli = registry.problem("multi_nli")
    mnli.generate_data(str(data), str(tmp_path))
    assert len(_records(mnli, data, "eval")) == 16


def test_classification_inputs_longer_than_the_model_are_cut(tmp_path):
    """IMDb reviews longer than the model's max_length (as in a T2T-written data dir): inputs are
    cut in training and evaluation, the trainer says how many, and evaluation does not crash."""
    tmp_dir, data_dir, out = tmp_path / "raw", tmp_path / "data", tmp_path / "model"
    os.makedirs(tmp_dir)
    src.write_imdb(str(tmp_dir))
    assert run_tool("t2t-datagen", "--problem=sentiment_imdb", f"--data_dir={data_dir}",
                    f"--tmp_dir={tmp_dir}").returncode == 0
    problem = registry.problem("sentiment_imdb")
    lengths = {split: [len(r["inputs"]) for r in _records(problem, data_dir, mode)]
               for split, mode in (("train", "train"), ("dev", "eval"))}
    assert all(max(v) > 8 for v in lengths.values())
    train = run_tool("t2t-trainer", "--problem=sentiment_imdb", f"--model={CLS}", "--hparams_set=transformer_test",
                     "--hparams=self_attention_type=sinkhorn,max_length=8", f"--data_dir={data_dir}",
                     f"--output_dir={out}", "--train_steps=4", "--local_eval_frequency=4", "--eval_steps=0")
    assert train.returncode == 0, train.stderr[-3000:]
    for split in ("train", "eval"):
        long = sum(n > 8 for n in lengths["train" if split == "train" else "dev"])
        total = len(lengths["train" if split == "train" else "dev"])
        assert (f"{long} of {total} {split} examples are longer than the model's length 8: their inputs are cut to 8 "
                "ids") in train.stdout
    assert "accuracy" in metrics_from(train.stdout)


def test_packed_rows_are_full_for_models_that_do_not_sort_blocks(tmp_path):
    """T2T's packing is written as is (rows over 90% real tokens); dense and local attention train
    on those rows, Sinkhorn on rows re-aligned to its blocks; the tools say the fill ratio."""
    tmp_dir, data_dir = tmp_path / "raw", tmp_path / "data"
    os.makedirs(tmp_dir)
    # T2T packs each of its 100 shards separately: ~10 rows per shard make the last, partial row rare.
    src.write_lm1b(str(tmp_dir), train={1: src.sentences(12000, 1, 4, 30)}, dev=src.sentences(50, 2, 4, 30))
    name = "languagemodel_lm1b_characters_packed"
    datagen = run_tool("t2t-datagen", f"--problem={name}", f"--data_dir={data_dir}", f"--tmp_dir={tmp_dir}")
    assert datagen.returncode == 0, datagen.stderr[-3000:]
    fill = float(datagen.stdout.split(f"{name}: ")[1].split("fill ratio ")[1].split()[0])
    rows = _records(registry.problem(name), data_dir) + _records(registry.problem(name), data_dir, "eval")
    real = sum(int(np.sum(r["targets_segmentation"] > 0)) for r in rows)
    assert fill == pytest.approx(real / (1024 * len(rows)), abs=1e-3) and fill >= 0.9
    ratios = {}
    for kind in ("dot_product", "local", "sinkhorn"):
        train_run = run_tool("t2t-trainer", f"--problem={name}", "--model=transformer", "--hparams_set=transformer_test",
                             f"--hparams=self_attention_type={kind},sinkhorn_block_size=128", f"--data_dir={data_dir}",
                             f"--output_dir={tmp_path / kind}", "--train_steps=1", "--schedule=train")
        assert train_run.returncode == 0, train_run.stderr[-3000:]
        line = next(line for line in train_run.stdout.splitlines() if "real-token fill ratio" in line)
        ratios[kind] = float(line.split("fill ratio ")[1].split()[0])
        assert ("aligned to blocks of 128" in line) == (kind == "sinkhorn"), line
    assert ratios["dot_product"] >= 0.9 and ratios["local"] >= 0.9
    assert ratios["sinkhorn"] < ratios["dot_product"]  # alignment pads every example to whole blocks


def test_missing_lm1b_files_are_an_error_never_fewer_records(tmp_path):
    src.write_lm1b(str(tmp_path))
    shard = (tmp_path / "1-billion-word-language-modeling-benchmark-r13output" / "training-monolingual.tokenized.shuffled"
             / "news.en-00042-of-00100")
    os.remove(shard)
    result = run_tool("t2t-datagen", "--problem=languagemodel_lm1b_characters", f"--data_dir={tmp_path / 'data'}",
                      f"--tmp_dir={tmp_path}")
    assert result.returncode == 2 and "news.en-00042-of-00100" in result.stderr and "1 of the release's 99" in result.stderr
    shard.write_text("a sentence cut sho")  # a copy cut short ends mid-line
    result = run_tool("t2t-datagen", "--problem=languagemodel_lm1b_characters", f"--data_dir={tmp_path / 'data'}",
                      f"--tmp_dir={tmp_path}")
    assert result.returncode == 2 and "news.en-00042-of-00100 looks truncated" in result.stderr
    shard.write_text("")
    os.remove(tmp_path / "vocab-2016-09-10.txt.en")
    result = run_tool("t2t-datagen", "--problem=languagemodel_lm1b_characters", f"--data_dir={tmp_path / 'data2'}",
                      f"--tmp_dir={tmp_path}")
    assert result.returncode == 2 and "vocab-2016-09-10.txt.en" in result.stderr.strip().splitlines()[-1]
