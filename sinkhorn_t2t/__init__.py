"""sinkhorn-t2t: Sparse Sinkhorn Attention (Tay et al., ICML 2020) for TensorFlow / Keras 3."""
import os


def _import_tensorflow_quietly():
    """Imports TensorFlow and Keras with C++ start-up logging (oneDNN, CUDA probing) silenced.

    TF 2.21 logs these through absl before `absl::InitializeLog()`, where `TF_CPP_MIN_LOG_LEVEL`
    has no effect (tensorflow/tensorflow#100442), so the stderr descriptor is parked on /dev/null
    for the duration of the import and restored afterwards; Python errors still propagate.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_tensorflow_quietly()

__version__ = "0.1.0"
