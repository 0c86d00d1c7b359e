"""`--t2t_usr_dir=t2t_usr_dir`: registers every problem, model and hparams set of the paper.

The tools import these anyway; this folder is the T2T-style entry point and the template for a
user's own: an `__init__.py` that imports the modules that register things.
"""
from sinkhorn_t2t import hparams, models, problems  # noqa: F401
