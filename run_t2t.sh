#!/usr/bin/env bash
# The main job: set up ./.venv, generate T2T's algorithmic sort data, train a small Sinkhorn
# Transformer, evaluate it (teacher-forced metrics), and decode dev examples autoregressively,
# printing exact match (EM) and edit distance. About 5 minutes on 2 cores.
# Knobs: OUTPUT_DIR, TRAIN_STEPS, HPARAMS_SET, PROBLEM.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
source scripts/setup_env.sh
OUT="${OUTPUT_DIR:-t2t_output}"
PROBLEM="${PROBLEM:-algorithmic_sort_problem}"
HPARAMS_SET="${HPARAMS_SET:-sinkhorn_tiny}"
TRAIN_STEPS="${TRAIN_STEPS:-4000}"
COMMON=(--t2t_usr_dir=t2t_usr_dir --problem="$PROBLEM" --model=transformer --hparams_set="$HPARAMS_SET"
        --data_dir="$OUT/data" --output_dir="$OUT/train/$PROBLEM-$HPARAMS_SET")

echo "== [1/4] t2t-datagen: $PROBLEM"
t2t-datagen --t2t_usr_dir=t2t_usr_dir --problem="$PROBLEM" --data_dir="$OUT/data" --tmp_dir="$OUT/tmp"
echo "== [2/4] t2t-trainer: $HPARAMS_SET for $TRAIN_STEPS steps (resumes if interrupted)"
t2t-trainer "${COMMON[@]}" --train_steps="$TRAIN_STEPS" --local_eval_frequency=1000 --log_step_count_steps=200 \
  --eval_steps=20 --schedule=train --random_seed=1
echo "== [3/4] t2t-eval: teacher-forced metrics on the whole dev set (lengths up to 2x the training lengths)"
t2t-eval "${COMMON[@]}" --eval_steps=0
echo "== [4/4] t2t-decoder: greedy decoding of 300 dev examples"
t2t-decoder "${COMMON[@]}" --decode_hparams="num_samples=300,batch_size=100" \
  --decode_to_file="$OUT/decodes.txt" | tail -n 7
