"""T2T's learning-rate schedules and optimizers on Keras 3.

Keras ships the optimizers (Adam, Adafactor) but not T2T's product-of-factors schedule string
(`constant*linear_warmup*rsqrt_decay*rsqrt_hidden_size`), so that schedule is written here, and
Keras's Adam updates each variable with about fifteen small ops where TensorFlow ships the fused
kernel T2T's Adam ran (`ResourceApplyAdam`), so `FusedAdam` routes Keras's Adam to that kernel.
"""
import keras
import tensorflow as tf
from keras import ops

SCHEDULE_FACTORS = ("constant", "linear_warmup", "rsqrt_decay", "rsqrt_normalized_decay", "rsqrt_hidden_size",
                    "linear_decay", "legacy")


@keras.saving.register_keras_serializable(package="sinkhorn_t2t")
class T2TSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`learning_rate_schedule` as in T2T's `utils/learning_rate.py`: the product of its factors.

    - constant: `learning_rate_constant`
    - linear_warmup: `min(1, step / warmup_steps)`
    - rsqrt_decay: `1 / sqrt(max(step, warmup_steps))`
    - rsqrt_normalized_decay: `sqrt(warmup_steps) / sqrt(max(step, warmup_steps))`
    - rsqrt_hidden_size: `hidden_size ** -0.5`
    - linear_decay: `min(1, (train_steps - step) / decay_steps)`
    - legacy: `learning_rate` (T2T's older schedules are not reproduced)
    """

    def __init__(self, schedule, constant, warmup_steps, hidden_size, learning_rate=0.1, train_steps=0,
                 decay_steps=0):
        self.schedule = schedule
        self.factors = [f.strip() for f in schedule.split("*") if f.strip()]
        unknown = [f for f in self.factors if f not in SCHEDULE_FACTORS]
        if unknown:
            raise ValueError(f"hparam learning_rate_schedule: unknown factor(s) {unknown}; known: {SCHEDULE_FACTORS}.")
        self.constant, self.warmup_steps, self.hidden_size = constant, warmup_steps, hidden_size
        self.learning_rate, self.train_steps, self.decay_steps = learning_rate, train_steps, decay_steps

    def __call__(self, step):
        step = ops.cast(step, "float32") + 1.0
        warmup = float(max(self.warmup_steps, 1))
        rate = ops.convert_to_tensor(1.0)
        for factor in self.factors:
            if factor == "constant":
                rate = rate * self.constant
            elif factor == "linear_warmup":
                rate = rate * ops.minimum(1.0, step / warmup)
            elif factor == "rsqrt_decay":
                rate = rate * ops.rsqrt(ops.maximum(step, warmup))
            elif factor == "rsqrt_normalized_decay":
                rate = rate * (warmup**0.5) * ops.rsqrt(ops.maximum(step, warmup))
            elif factor == "rsqrt_hidden_size":
                rate = rate * float(self.hidden_size) ** -0.5
            elif factor == "linear_decay":
                rate = rate * ops.clip((self.train_steps - step) / max(self.decay_steps, 1), 0.0, 1.0)
            else:
                rate = rate * self.learning_rate
        return rate

    def get_config(self):
        return dict(schedule=self.schedule, constant=self.constant, warmup_steps=self.warmup_steps,
                    hidden_size=self.hidden_size, learning_rate=self.learning_rate, train_steps=self.train_steps,
                    decay_steps=self.decay_steps)


@keras.saving.register_keras_serializable(package="sinkhorn_t2t")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` whose per-variable update is TensorFlow's fused `ResourceApplyAdam`
    kernel (the one `tf.compat.v1.train.AdamOptimizer` and so T2T use; XLA compiles it too).

    Same update as Keras's: `m += (1 - beta_1) (g - m)`, `v += (1 - beta_2) (g^2 - v)`,
    `var -= lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)`. One op per
    variable instead of about fifteen: a smaller graph to trace and fewer kernels per step.
    Everything else (schedules, clipping, loss scaling, EMA) is Keras's. `amsgrad` is not offered.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.amsgrad:
            raise ValueError("FusedAdam: `amsgrad` is not offered by the fused kernel; use keras.optimizers.Adam.")

    def update_step(self, gradient, variable, learning_rate):
        """`variable`: a `tf.Variable` (the replica's own under a distribution strategy)."""
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].value.handle, v=self._velocities[index].value.handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step), lr=tf.cast(learning_rate, dtype),
            beta1=beta_1, beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(tf.convert_to_tensor(gradient), dtype))


def learning_rate_schedule(hparams, train_steps=0):
    return T2TSchedule(hparams.learning_rate_schedule, hparams.learning_rate_constant,
                       hparams.learning_rate_warmup_steps, hparams.hidden_size, hparams.learning_rate, train_steps,
                       hparams.get("learning_rate_decay_steps", 0))


def make_optimizer(hparams, train_steps=0):
    """Adam or Adafactor from hparams, with the T2T schedule and optional gradient clipping."""
    schedule = learning_rate_schedule(hparams, train_steps)
    clip = dict(global_clipnorm=hparams.clip_grad_norm) if hparams.clip_grad_norm else {}
    name = hparams.optimizer.lower()
    if name == "adam":
        return FusedAdam(schedule, beta_1=hparams.optimizer_adam_beta1, beta_2=hparams.optimizer_adam_beta2,
                         epsilon=hparams.optimizer_adam_epsilon, **clip)
    if name == "adafactor":
        return keras.optimizers.Adafactor(schedule, beta_2_decay=hparams.optimizer_adafactor_decay_rate,
                                          clip_threshold=hparams.optimizer_adafactor_clipping_threshold,
                                          relative_step=False, **clip)
    raise ValueError(f"hparam optimizer={hparams.optimizer!r}: use adam or adafactor.")


def weight_decay_penalty(variables, rate):
    """T2T's `weight_decay`: `rate * sum(l2_loss(v))` over the variables, skipping 1-D biases
    (`l2_loss(v) = sum(v ** 2) / 2`). Added to the training loss."""
    if not rate:
        return 0.0
    penalties = [tf.nn.l2_loss(tf.cast(v, tf.float32)) for v in variables
                 if not (len(v.shape) == 1 and v.path.endswith("bias"))]
    return rate * tf.add_n(penalties)
