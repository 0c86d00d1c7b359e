"""An example of a user's own --t2t_usr_dir: a problem and an hparams set registered on import.

    t2t-trainer --t2t_usr_dir=examples/my_usr_dir --problem=algorithmic_reverse_tiny \
        --model=transformer --hparams_set=my_sinkhorn_tiny --generate_data \
        --data_dir=/tmp/rev_data --output_dir=/tmp/rev_model --train_steps=200
"""
from . import my_problem  # noqa: F401
