"""t2t-datagen: generate a problem's data into --data_dir (T2T's sharded TFRecords)."""
import fnmatch

from sinkhorn_t2t import registry
from sinkhorn_t2t.bin import common
from sinkhorn_t2t.bin.common import FLAGS, UsageError
from sinkhorn_t2t.data.sources import UnsafeArchiveError


def selected_problems(spec):
    """`--problem`: a name, a comma-separated list, or a `prefix*` pattern."""
    names = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if "*" in part:
            matches = fnmatch.filter(registry.list_problems(), part)
            if not matches:
                raise UsageError(f"--problem: no registered problem matches {part!r}.")
            names.extend(matches)
        else:
            names.append(part)
    return [common.lookup("problem", name, "problem") for name in names]


def main():
    registry.load_builtins()
    common.require("problem", "data_dir")
    problems = selected_problems(FLAGS.problem)
    common.set_seed()
    data_dir = common.ensure_dir(FLAGS.data_dir, "data_dir")
    tmp_dir = common.ensure_dir(FLAGS.tmp_dir, "tmp_dir")
    for problem in problems:
        if FLAGS.random_seed is not None:  # else T2T's default, 429459
            problem.datagen_seed = FLAGS.random_seed
        print(f"generating data for {problem.name} into {data_dir}", flush=True)
        try:
            problem.generate_data(data_dir, tmp_dir)
        except (FileNotFoundError, UnsafeArchiveError) as err:
            raise UsageError(f"--problem={problem.name}: {err}") from None
    print("done", flush=True)


def console_main():
    common.console_entry(main)


if __name__ == "__main__":
    console_main()
