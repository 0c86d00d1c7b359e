"""Training and evaluation under a `tf.distribute` strategy, with resumable checkpoints.

Checkpoints (`tf.train.CheckpointManager`) hold the model, the optimizer (its step counter and
slots), the global step and the training input pipeline's position (its iterator, shuffle buffers
included), so a run killed at any moment restarts from its last checkpoint and goes on with the
very batches an uninterrupted run would have seen.
Progress lines give step, loss, steps/s and ETA; TensorBoard summaries go to
`output_dir/{train,eval}`.
"""
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import time

import tensorflow as tf

from sinkhorn_t2t.data.input_pipeline import align_packed_rows, batch_dataset, example_length, \
    fixed_bucket_lengths
from sinkhorn_t2t.data.problem import DatasetSplit, Modality
from sinkhorn_t2t.models.attention_factory import BLOCK_SORTING_TYPES
from sinkhorn_t2t.models.transformer import apply_initializer_gain, build_model
from sinkhorn_t2t.training import checkpoints, metrics
from sinkhorn_t2t.training.optimizers import make_optimizer, weight_decay_penalty
from sinkhorn_t2t.training.strategy import strategy_name, worker_role


class DataError(RuntimeError):
    """Unreadable training or evaluation data; the message says which and what to do."""


class WorkerLostError(RuntimeError):
    """Another worker of a multi-worker run stopped answering; every worker must be restarted."""

COMPILED_MESSAGE = "XLA program compiled on its first host call"  # logged once per bucket length (stacked loop)

# What a collective op raises when a peer is gone or the collective timeout passed.
PEER_ERRORS = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError,
               tf.errors.AbortedError)


def op_message(err):
    """The first line of a TensorFlow error without its `{{function_node ...}}` / `[Op:...]` wrapping."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
    return re.sub(r"\s*\[Op:[^\]]*\].*$", "", text)[:200]


def _summed_steps(steps, step):
    """Runs `step(i)` -> (loss, weight) for i < `steps` in one `tf.while_loop`; the summed loss and weight."""
    def body(i, loss_sum, weight_sum):
        loss, weight = step(i)
        return i + 1, loss_sum + loss, weight_sum + weight

    _, loss_sum, weight_sum = tf.while_loop(lambda i, *_: i < steps, body,
                                            (tf.constant(0), tf.constant(0.0), tf.constant(0.0)))
    return loss_sum, weight_sum


def _format_seconds(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


class Trainer:
    """Builds the model, optimizer and checkpoint for one problem / hparams / output_dir.

    Args:
      problem: a `Problem` instance.
      model_name: registered model name.
      hparams: model hparams.
      data_dir, output_dir: data and model directories.
      strategy: a `tf.distribute.Strategy`.
      fixed_shapes: fixed-shape batches from a few length buckets (`fixed_bucket_lengths`),
        remainders dropped (TPU / XLA).
      xla_compile: compile each replica's training step with XLA (needs `fixed_shapes`).
      keep_checkpoint_max: checkpoints kept by the manager.
      seed: random seed for data shuffling.
      log: a `print`-like function for progress lines.
      iterations_per_loop: most training steps one `tf.function` call runs (T2T's flag).
    """

    def __init__(self, problem, model_name, hparams, data_dir, output_dir, strategy, fixed_shapes=False,
                 xla_compile=False, keep_checkpoint_max=20, seed=None, log=print, train_steps=0,
                 iterations_per_loop=1000):
        self.problem = problem
        self.hparams = hparams
        self.data_dir = data_dir
        self.output_dir = output_dir
        self.strategy = strategy
        self.fixed_shapes = fixed_shapes
        self.seed = seed
        self.log = log
        self.problem_hparams = problem.get_hparams(hparams, data_dir)
        self.max_length = problem.max_length(hparams)
        self.target_modality = self.problem_hparams.modality["targets"]
        self._reported_long = set()
        with strategy.scope():
            self.model = build_model(model_name, hparams, self.problem_hparams, self.max_length)
            self.model(self._dummy_features(), training=False)
            apply_initializer_gain(self.model, hparams.initializer_gain)
            self.optimizer = make_optimizer(hparams, train_steps)
            self.optimizer.build(self.model.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self.keep_checkpoint_max = keep_checkpoint_max
        self.is_chief, self.num_workers, self.task = worker_role(strategy)
        self.iterations_per_loop = iterations_per_loop
        self.xla_compile = xla_compile
        # The traced functions hold no Python control flow over tensors (loops are `tf.while_loop`s):
        # tracing them without AutoGraph skips converting the model's source, seconds per process.
        self._train_step = tf.function(self._replica_train_step, jit_compile=True, autograph=False) if xla_compile \
            else self._replica_train_step
        # TPU-style host loop: one XLA program runs `iterations_per_loop` steps on a stack of that
        # many fixed-shape batches (TPUStrategy, or the default device standing in for it).
        self.stacked = fixed_shapes and xla_compile and not isinstance(
            strategy, (tf.distribute.MirroredStrategy, tf.distribute.MultiWorkerMirroredStrategy))
        self._multi_step = tf.function(self._replica_steps, jit_compile=True, autograph=False)

    def _dummy_features(self):
        """A batch of one to build the model: 8 ids, or the fewest SortCut can attend over."""
        length = 8
        if self.hparams.get("self_attention_type") == "sortcut":
            length = max(length, self.hparams.sinkhorn_block_size * self.hparams.sortcut_budget)
        length = min(self.max_length, length)
        features = {"targets": tf.ones([1, 1 if self.target_modality == "class_label" else length], tf.int32)}
        if "inputs" in self.problem_hparams.modality:
            features["inputs"] = tf.ones([1, length], tf.int32)
        return features

    # --- checkpoints -----------------------------------------------------------------------
    def restore(self, checkpoint_path=None, iterator=None, training=False):
        """Restores `checkpoint_path`, else the newest *intact* checkpoint in output_dir (a damaged
        newer one is reported and skipped); returns the path, or None when there is none. In
        training, the random generators' states and, given a checkpointable `iterator`, the input
        pipeline's position are restored too.

        Raises:
          checkpoints.CheckpointError: the given checkpoint, or every one in output_dir, is damaged.
        """
        if checkpoint_path:
            checkpoints.check(checkpoint_path)
            path = checkpoint_path
        else:
            path = checkpoints.newest_intact(self.output_dir, log=self.log)
        if not path:
            return None
        saved = {name.split("/", 1)[0] for name, _ in tf.train.list_variables(path)}
        if training and iterator is not None and "iterator" not in saved:
            self.log(f"{path} holds no input pipeline position (written by an older version): the data restarts")
        status = self._checkpoint(iterator if "iterator" in saved else None, training and "random" in saved).restore(path)
        status.assert_existing_objects_matched().expect_partial()  # evaluation leaves the training state unread
        return path

    def latest_step(self):
        """The global step of the newest intact checkpoint in output_dir (0 when there is none)."""
        path = checkpoints.newest_intact(self.output_dir, log=lambda _: None)
        return int(tf.train.load_checkpoint(path).get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) if path else 0

    def _checkpoint(self, iterator=None, random=False):
        """What a checkpoint holds: model, optimizer and global step; in training also the state of
        every random generator in the model (dropout, Gumbel noise) and the input iterator, so a
        resumed run draws the noise and the batches an uninterrupted one would."""
        parts = dict(model=self.model, optimizer=self.optimizer, step=self.step)
        if iterator is not None:
            parts["iterator"] = iterator
        if random:
            parts["random"] = list(self.model.non_trainable_variables)  # Keras's seed generator states
        return tf.train.Checkpoint(**parts)

    # --- data ------------------------------------------------------------------------------
    def _dataset(self, mode, skip=0):
        """The distributed dataset of `mode`; `skip` global batches (host calls in the stacked
        TPU-style loop) are dropped from its start."""
        if not skip:
            self._report_long_examples(mode)
            if mode == DatasetSplit.TRAIN and getattr(self.problem, "packed_length", None):
                self._report_fill()
        if mode == DatasetSplit.TRAIN and self.stacked:
            return self.strategy.distribute_datasets_from_function(lambda context: self._stacked_batches(context, skip))
        ds = self.problem.dataset(mode, self.data_dir, self.hparams, seed=self.seed)
        ds = batch_dataset(ds, self.problem, self.hparams, mode, fixed_shapes=self.fixed_shapes,
                           num_replicas=self.strategy.num_replicas_in_sync, seed=self.seed,
                           drop_long=self.sorts_blocks, align_blocks=self._align_blocks()).skip(skip)
        if self.num_workers > 1:  # each worker reads every file and keeps its share of the batches
            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
            ds = ds.with_options(options)
        return self.strategy.experimental_distribute_dataset(ds)

    def _stacked_batches(self, context, skip):
        """One input pipeline's per-replica batches (fixed shapes, remainder dropped), stacked
        `iterations_per_loop` batches of one bucket length at a time: `[iterations_per_loop,
        batch, length]` per feature (one XLA program per bucket length)."""
        ds = self.problem.dataset(DatasetSplit.TRAIN, self.data_dir, self.hparams, seed=self.seed)
        ds = ds.shard(context.num_input_pipelines, context.input_pipeline_id)
        ds = batch_dataset(ds, self.problem, self.hparams, DatasetSplit.TRAIN, fixed_shapes=True, seed=self.seed,
                           drop_long=self.sorts_blocks, align_blocks=self._align_blocks())
        steps = self.loop_steps
        ds = ds.group_by_window(lambda batch: tf.cast(example_length(batch, axis=1), tf.int64),
                                lambda _, window: window.batch(steps, drop_remainder=True), window_size=steps)
        return ds.skip(skip).prefetch(2)

    @property
    def sorts_blocks(self):
        return self.hparams.get("self_attention_type") in BLOCK_SORTING_TYPES

    def _align_blocks(self):
        return self.hparams.sinkhorn_block_size if self.sorts_blocks else None

    def _report_fill(self, rows=256):
        """Prints the real-token fill ratio of the packed rows the model trains on."""
        align = self._align_blocks()
        ds = self.problem.dataset(DatasetSplit.TRAIN, self.data_dir, self.hparams, shuffle_files=False)
        if align:
            ds = align_packed_rows(ds, align, self.problem.packed_length)
        count, real = self._scan(ds.take(rows), DatasetSplit.TRAIN, lambda acc, row: (
            acc[0] + 1, acc[1] + tf.reduce_sum(tf.cast(row["targets_segmentation"] > 0, tf.int64))))
        ratio = int(real) / max(int(count) * self.problem.packed_length, 1)
        how = (f"examples aligned to blocks of {align} for {self.hparams.self_attention_type} attention"
               if align else "T2T's packing as written")
        self.log(f"packed rows: real-token fill ratio {ratio:.3f} over the first {int(count)} training rows ({how})")

    def _report_long_examples(self, mode):
        """Says once per split how many examples exceed the model's length and what happens to
        them: classification inputs are cut; in evaluation, models of fixed length drop longer
        examples (dense / local / sparse attention keep them, as T2T does)."""
        if mode in self._reported_long:
            return
        self._reported_long.add(mode)
        if self.target_modality == Modality.CLASS_LABEL:
            action = f"their inputs are cut to {self.max_length} ids"
        elif mode != DatasetSplit.TRAIN and self.sorts_blocks:
            action = (f"dropped from evaluation ({self.hparams.self_attention_type} attention reads at most "
                      f"max_length={self.max_length} positions)")
        else:
            return
        lengths = self.problem.dataset(mode, self.data_dir, self.hparams, preprocess=False, shuffle_files=False) \
            .map(lambda ex: tf.cast(example_length(ex), tf.int64))
        total, long = self._scan(lengths, mode, lambda acc, n: (acc[0] + 1, acc[1] + tf.cast(n > self.max_length,
                                                                                              tf.int64)))
        if int(long):
            self.log(f"{int(long)} of {int(total)} {mode} examples are longer than the model's length "
                     f"{self.max_length}: {action}")

    def _corrupt(self, err, mode, found=None):
        """The DataError for an unreadable record while reading `mode` data, naming the file
        (`found`: `Problem.first_corrupt_file`'s answer when the caller already has it)."""
        found = found or self.problem.first_corrupt_file(self.data_dir, mode)
        where = (f"{found[0]} ({op_message(found[1])})" if found else
                 f"the {mode} data of {self.problem.name} under --data_dir {self.data_dir} ({op_message(err)})")
        return DataError(f"corrupt record in {where}; delete the file(s) and run t2t-datagen again.")

    def _scan(self, dataset, mode, add):
        """`dataset.reduce` from two int64 zeros with `add`; an unreadable record is a DataError."""
        try:
            return dataset.reduce((tf.constant(0, tf.int64), tf.constant(0, tf.int64)), add)
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as err:
            raise self._corrupt(err, mode) from None

    def _next(self, iterator, mode):
        try:
            return next(iterator)
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as err:
            raise self._corrupt(err, mode) from None

    # --- steps -----------------------------------------------------------------------------
    def _loss_sums(self, logits, features):
        targets = features["targets"]
        weights = metrics.target_weights(targets, self.target_modality)
        xent = metrics.smoothed_cross_entropy(logits, targets, self.hparams.label_smoothing)
        return tf.reduce_sum(xent * weights) * self.problem_hparams.loss_multiplier, tf.reduce_sum(weights)

    def _replica_train_step(self, features):
        with tf.GradientTape() as tape:
            logits = self.model(features, training=True)
            loss_sum, weight_sum = self._loss_sums(logits, features)
            total_weight = tf.distribute.get_replica_context().all_reduce("sum", weight_sum)
            loss = loss_sum / tf.maximum(total_weight, 1.0)
            # Gradients of the replicas are summed: each adds its share of the penalty.
            loss += weight_decay_penalty(self.model.trainable_variables, self.hparams.weight_decay) / \
                self.strategy.num_replicas_in_sync
        variables = self.model.trainable_variables
        # Dense embedding gradients: replicas' IndexedSlices differ in row count, which the
        # cross-replica all-gather cannot combine.
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
                 for g in tape.gradient(loss, variables)]
        self.optimizer.apply_gradients(zip(grads, variables))
        return loss_sum, weight_sum

    def _replica_steps(self, stacked):
        """`iterations_per_loop` training steps in one XLA program: `stacked` holds one batch per
        step (`[steps, batch, length]` per feature); returns the summed loss and weight."""
        steps = next(iter(stacked.values())).shape[0]
        return _summed_steps(steps, lambda i: self._replica_train_step(
            {k: tf.gather(v, i) for k, v in stacked.items()}))

    @tf.function(autograph=False)
    def _train_stacked(self, iterator):
        """One host call of the TPU-style loop: the mean loss and the bucket length it ran at."""
        stacked = next(iterator)
        per_replica = self.strategy.run(self._multi_step, args=(stacked,))
        self.step.assign_add(self.loop_steps)
        loss_sum = self.strategy.reduce("sum", per_replica[0], axis=None)
        length = tf.shape(self.strategy.experimental_local_results(stacked["targets"])[0])[-1]
        return loss_sum / tf.maximum(self.strategy.reduce("sum", per_replica[1], axis=None), 1.0), length

    @tf.function(autograph=False)
    def _train_chunk(self, iterator, steps):
        """`steps` training steps in one host call; the mean loss."""
        def step(_):
            per_replica = self.strategy.run(self._train_step, args=(next(iterator),))
            self.step.assign_add(1)
            return tuple(self.strategy.reduce("sum", t, axis=None) for t in per_replica)

        loss_sum, weight_sum = _summed_steps(steps, step)
        return loss_sum / tf.maximum(weight_sum, 1.0)

    def _replica_eval_step(self, features):
        logits = self.model(features, training=False)
        targets = features["targets"]
        sums = metrics.metric_sums(logits, targets, metrics.target_weights(targets, self.target_modality))
        loss_sum, weight_sum = self._loss_sums(logits, features)
        sums["loss"] = (loss_sum, weight_sum)
        return sums

    @tf.function(reduce_retracing=True, autograph=False)  # traced once, for the shape-generic element_spec
    def _eval_step(self, features):
        per_replica = self.strategy.run(self._replica_eval_step, args=(features,))
        return tf.nest.map_structure(lambda t: self.strategy.reduce("sum", t, axis=None), per_replica)

    # --- loops -----------------------------------------------------------------------------
    def train(self, train_steps, save_every=1000, log_every=100, eval_every=None, eval_steps=100):
        """Trains up to `train_steps` global steps, saving every `save_every` steps and at the end,
        evaluating every `eval_every` steps when given. Resumes from the latest checkpoint."""
        if self.stacked:  # host calls must end exactly on every progress, checkpoint and eval step
            self.loop_steps = math.gcd(self.iterations_per_loop, log_every, save_every, train_steps, eval_every or 0,
                                       self.latest_step())
            if self.loop_steps != self.iterations_per_loop:
                self.log(f"iterations_per_loop {self.iterations_per_loop} -> {self.loop_steps}, so that host calls end "
                         "on every progress line, checkpoint and evaluation")
        iterator = iter(self._dataset(DatasetSplit.TRAIN))
        try:
            tf.train.Checkpoint(iterator=iterator)
        except ValueError:  # a distributed iterator: TensorFlow cannot save it
            iterator, saved_iterator = None, None
        else:
            saved_iterator = iterator
        restored = self.restore(iterator=saved_iterator, training=True)
        start = int(self.step.numpy())
        if restored:
            self.log(f"resumed from {restored} at step {start}")
        if iterator is None:
            # One global batch per step: skipping `start` batches of the same seeded stream puts
            # the pipeline where the killed run left it (at the cost of reading them once more).
            if start:
                self.log(f"input pipeline: skipping the {start} batches trained on before ({strategy_name(self.strategy)}"
                         " iterators cannot be checkpointed)")
            iterator = iter(self._dataset(DatasetSplit.TRAIN, skip=start // self.loop_steps if self.stacked else start))
        if start >= train_steps:
            self.log(f"step {start} >= --train_steps {train_steps}: nothing to train")
            return start
        # Every worker saves (saving takes part in collectives); only the chief's checkpoints are
        # the run's, the others keep one in a temporary folder that is removed at the end.
        save_dir = self.output_dir if self.is_chief else tempfile.mkdtemp(prefix="t2t-worker-")
        if not self.is_chief:
            self.log(f"{self.task} saves its checkpoints to {save_dir} (removed at the end; the chief's are the run's)")
        saver = tf.train.CheckpointManager(self._checkpoint(saved_iterator, random=True), save_dir,
                                           max_to_keep=self.keep_checkpoint_max if self.is_chief else 1)
        writer = tf.summary.create_file_writer(os.path.join(self.output_dir, "train")) if self.is_chief \
            else tf.summary.create_noop_writer()
        self.log(f"strategy {strategy_name(self.strategy)}: {self.num_workers} worker(s), "
                 f"{self.strategy.num_replicas_in_sync} replica(s) in sync; this process is the {self.task}")
        if self.fixed_shapes:
            lengths = fixed_bucket_lengths(self.max_length, self.hparams.min_length_bucket)
            how = f"{self.loop_steps} step(s) per XLA program" if self.stacked else \
                "XLA-compiled steps" if self.xla_compile else "steps"
            self.log(f"fixed shapes: {how}, one compilation per bucket length {lengths}")
        try:
            step = self._train_loop(iterator, saver, writer, start, train_steps, save_every, log_every, eval_every,
                                    eval_steps)
        finally:
            if not self.is_chief:
                shutil.rmtree(save_dir, ignore_errors=True)
        self.log(f"final weights fingerprint {self.fingerprint()}")
        return step

    def fingerprint(self):
        """SHA-256 (first 16 hex digits) of every model weight's bytes: equal runs print equal ones."""
        digest = hashlib.sha256()
        for variable in self.model.weights:
            digest.update(variable.numpy().tobytes())
        return digest.hexdigest()[:16]

    def _train_loop(self, iterator, saver, writer, start, train_steps, save_every, log_every, eval_every, eval_steps):
        began, step = time.time(), start
        t0, since = time.time(), start  # the last progress line
        compiled = set()  # bucket lengths whose XLA program this process has compiled (stacked loop)
        while step < train_steps:
            boundaries = [train_steps, (step // log_every + 1) * log_every, (step // save_every + 1) * save_every]
            if eval_every:
                boundaries.append((step // eval_every + 1) * eval_every)
            chunk = self.loop_steps if self.stacked else min(min(boundaries) - step, self.iterations_per_loop)
            called = time.time()
            try:
                if self.stacked:
                    loss, length = self._train_stacked(iterator)
                    length = int(length)
                else:
                    loss, length = self._train_chunk(iterator, tf.constant(chunk)), None
                loss = float(loss)
            except PEER_ERRORS as err:
                if self.num_workers == 1:
                    raise
                raise WorkerLostError(
                    f"{self.task}: another worker stopped answering during steps {step}-{step + chunk} "
                    f"({type(err).__name__}); restart every worker with the same command: training resumes "
                    "from the last checkpoint.") from None
            except tf.errors.DataLossError as err:
                raise self._corrupt(err, DatasetSplit.TRAIN) from None
            except tf.errors.InvalidArgumentError as err:  # an unparsable record, or a model error
                found = self.problem.first_corrupt_file(self.data_dir, DatasetSplit.TRAIN)
                if found:
                    raise self._corrupt(err, DatasetSplit.TRAIN, found) from None
                raise
            step = int(self.step.numpy())
            if length is not None and length not in compiled:
                compiled.add(length)
                self.log(f"bucket length {length}: {COMPILED_MESSAGE} "
                         f"(steps {step - chunk + 1}-{step}, {time.time() - called:.1f} s with the compilation)")
            if not math.isfinite(loss):
                raise FloatingPointError(f"loss became {loss} at step {step}; lower the learning rate or check data.")
            crossed = lambda every: step // every > (step - chunk) // every  # noqa: E731
            if not (crossed(log_every) or crossed(save_every) or step >= train_steps or (eval_every and
                                                                                      crossed(eval_every))):
                continue  # an iterations_per_loop boundary only
            rate = (step - since) / max(time.time() - t0, 1e-9)
            t0, since = time.time(), step
            eta = (train_steps - step) / max((step - start) / max(time.time() - began, 1e-9), 1e-9)
            lr = float(self.optimizer.learning_rate)
            self.log(f"step {step}/{train_steps}  loss {loss:.4f}  {rate:.2f} steps/s  lr {lr:.3g}  "
                     f"ETA {_format_seconds(eta)}")
            with writer.as_default(step=step):
                tf.summary.scalar("loss", loss)
                tf.summary.scalar("learning_rate", lr)
                tf.summary.scalar("steps_per_second", rate)
            if crossed(save_every) or step >= train_steps:
                saver.save(checkpoint_number=step)
            if eval_every and crossed(eval_every) and step < train_steps:
                self.evaluate(eval_steps)
        writer.flush()
        return step

    def evaluate(self, eval_steps=100, mode=DatasetSplit.EVAL):
        """Metrics over `eval_steps` batches of the dev split (all of it when eval_steps <= 0)."""
        dataset = self._dataset(mode)
        self._eval_step.get_concrete_function(dataset.element_spec)  # every bucket length runs this one trace
        totals = None
        iterator = iter(dataset)
        batches = 0
        while eval_steps <= 0 or batches < eval_steps:
            try:
                features = self._next(iterator, mode)
            except StopIteration:
                break
            sums = self._eval_step(features)
            totals = sums if totals is None else tf.nest.map_structure(lambda a, b: a + b, totals, sums)
            batches += 1
        if totals is None:
            raise DataError(f"the {mode} split of {self.problem.name} under --data_dir {self.data_dir} is empty.")
        results = metrics.finalize({k: (v[0].numpy(), v[1].numpy()) for k, v in totals.items()})
        results = {name: value for name, value in results.items()
                   if name == "loss" or name in self.problem.eval_metrics()}
        results.update(self.problem.derived_metrics(results))
        step = int(self.step.numpy())
        writer = tf.summary.create_file_writer(os.path.join(self.output_dir, "eval")) if self.is_chief \
            else tf.summary.create_noop_writer()
        with writer.as_default(step=step):
            for name, value in results.items():
                tf.summary.scalar(f"metrics-{self.problem.name}/targets/{name}", value)
        writer.flush()
        self.log(f"eval at step {step} over {batches} batches:")
        for name, value in sorted(results.items()):
            self.log(f"  metrics-{self.problem.name}/targets/{name} = {value:.6g}")
        with open(os.path.join(self.output_dir, f"eval_{mode}_{step}.json"), "w") as f:
            json.dump(dict(step=step, batches=batches, **results), f, indent=1)
        return results
