#!/usr/bin/env bash
# Writes tests/golden/t2t/ with the REAL Tensor2Tensor 1.15.7 as the oracle: its t2t-datagen on the
# small release-format inputs of tests/golden/inputs.py, and its SubwordTextEncoder on
# inputs.subword_texts(). Run once by a developer after building the oracle:
#   bash ../shared/tools/real_t2t/setup_real_t2t.sh ~/.cache/real-t2t
#   bash tests/golden/make_t2t_golden.sh ~/.cache/real-t2t
# The tests compare this project's output with these files; neither the project nor its tests
# import or run tensor2tensor.
set -euo pipefail
ORACLE=${1:-$HOME/.cache/real-t2t}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
USR_DIR="$ROOT/../shared/tools/real_t2t/usr_dir"
OUT="$ROOT/tests/golden/t2t"
WORK=$(mktemp -d)
cd "$ROOT"
source scripts/setup_env.sh
rm -rf "$OUT" && mkdir -p "$OUT"

# 1. Release-format inputs, kept with the goldens (NumPy's random streams change across versions, so
#    the tests read these files rather than generating them again). T2T's generators download an
#    archive unless a file of that name is in --tmp_dir (and extract it only right after
#    downloading): empty stand-ins keep them offline.
python -c "
import gzip, json
from tests.golden import inputs
inputs.write_lm1b('$WORK/lm1b'); inputs.write_imdb('$WORK/imdb'); inputs.write_cifar10('$WORK/cifar')
json.dump(inputs.subword_texts(), gzip.open('$OUT/subword_texts.json.gz', 'wt'))"
tar -czf "$OUT/lm1b_inputs.tar.gz" -C "$WORK/lm1b" .
tar -czf "$OUT/imdb_inputs.tar.gz" -C "$WORK/imdb" .
tar -czf "$OUT/cifar_inputs.tar.gz" -C "$WORK/cifar" .
touch "$WORK/lm1b/1-billion-word-language-modeling-benchmark-r13output.tar.gz" "$WORK/imdb/aclImdb_v1.tar.gz"
tar -czf "$WORK/cifar/cifar-10-python.tar.gz" -C "$WORK/cifar" cifar-10-batches-py  # T2T always extracts this one

# 2. T2T's datagen.
for problem in languagemodel_lm1b_characters languagemodel_lm1b32k languagemodel_lm1b_characters_packed \
               languagemodel_lm1b32k_packed; do
  "$ORACLE/bin/t2t-datagen" --t2t_usr_dir="$USR_DIR" --problem=$problem --data_dir="$WORK/data" --tmp_dir="$WORK/lm1b"
done
"$ORACLE/bin/t2t-datagen" --t2t_usr_dir="$USR_DIR" --problem=sentiment_imdb --data_dir="$WORK/data" --tmp_dir="$WORK/imdb"
"$ORACLE/bin/t2t-datagen" --t2t_usr_dir="$USR_DIR" --problem=image_cifar10_plain_gen_flat --data_dir="$WORK/data" \
  --tmp_dir="$WORK/cifar"

# 3. T2T's subword learner at several target sizes (the bisection on min_count).
"$ORACLE/bin/python" - "$OUT" <<'EOF'
import gzip, json, sys
from tensor2tensor.data_generators import text_encoder

texts = json.load(gzip.open(f"{sys.argv[1]}/subword_texts.json.gz", "rt"))
for target in (64, 200, 500, 1000):
    encoder = text_encoder.SubwordTextEncoder.build_from_generator(
        texts, target, max_subtoken_length=200, reserved_tokens=text_encoder.RESERVED_TOKENS)
    encoder.store_to_file(f"{sys.argv[1]}/subwords.target_{target}")
EOF

# 4. T2T's batching scheme (length-bucket boundaries and examples per batch) for a few hparams.
"$ORACLE/bin/python" - "$OUT" <<'EOF'
import json, sys
from tensor2tensor.utils import data_reader

configs = [dict(batch_size=b, max_length=m, min_length_bucket=n, length_bucket_step=s, shard_multiplier=k)
           for b, m, n, s, k in [(4096, 256, 8, 1.1, 1), (4096, 256, 8, 1.1, 2), (2048, 1024, 8, 1.1, 1),
                                 (256, 16, 8, 1.1, 1), (64, 16, 4, 1.1, 1), (1024, 64, 4, 1.2, 1),
                                 (8192, 0, 8, 1.1, 8), (100000, 30, 2, 1.5, 1), (3, 40, 8, 1.1, 1)]]
for config in configs:
    scheme = data_reader.batching_scheme(**config)
    config.update(boundaries=scheme["boundaries"], batch_sizes=scheme["batch_sizes"])
with open(f"{sys.argv[1]}/batching_schemes.json", "w") as f:
    f.write("[\n" + ",\n".join(json.dumps(config) for config in configs) + "\n]\n")
EOF

# 5. Records as sorted JSON (T2T shuffles inside shards: compare multisets), vocabularies as written.
python - "$WORK/data" "$OUT" <<'EOF'
import glob, gzip, json, os, shutil, sys
sys.path.insert(0, ".")
from tests.golden.inputs import records

data, out = sys.argv[1:]
for prefix in ("languagemodel_lm1b_characters", "languagemodel_lm1b32k", "languagemodel_lm1b_characters_packed",
               "languagemodel_lm1b32k_packed", "sentiment_imdb", "image_cifar10_plain"):
    with gzip.open(f"{out}/{prefix}.json.gz", "wt") as f:
        json.dump(records(data, prefix), f, sort_keys=True)
for vocab in glob.glob(f"{data}/vocab.*"):
    shutil.copy(vocab, out)
print(sorted(os.listdir(out)))
EOF
rm -rf "$WORK"
