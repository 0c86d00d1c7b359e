"""Tensor2Tensor-style registries for models, hparam sets, ranged hparam sets and problems.

`@register_model`, `@register_hparams`, `@register_ranged_hparams` and `@register_problem`
work with or without an explicit name; the default name is the snake_case of the class or
function name, as in T2T (`AlgorithmicSortProblem` -> `algorithmic_sort_problem`).
"""
import difflib
import importlib
import inspect
import re

_FIRST_CAP = re.compile("(.)([A-Z][a-z0-9]+)")
_ALL_CAP = re.compile("([a-z0-9])([A-Z])")


def default_name(obj):
    """T2T's `camelcase_to_snakecase` of the object's name."""
    return _ALL_CAP.sub(r"\1_\2", _FIRST_CAP.sub(r"\1_\2", obj.__name__)).lower()


def _same_definition(a, b):
    """True when `b` is `a` re-imported (a usr_dir imported twice): same name, file and line."""
    if a is b:
        return True
    try:
        return all(f(a) == f(b) for f in (lambda o: o.__qualname__, inspect.getsourcefile,
                                           lambda o: inspect.getsourcelines(o)[1]))
    except (TypeError, OSError):
        return False


class NotRegisteredError(KeyError):
    """An unknown registry name (a KeyError, as in T2T); the message lists the closest names."""

    def __str__(self):
        return str(self.args[0])


_BUILTIN_MODULES = ("sinkhorn_t2t.models", "sinkhorn_t2t.problems", "sinkhorn_t2t.hparams")
_builtins_loaded = False


def load_builtins():
    """Registers this package's own models, problems and hparams sets (once)."""
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)


class Registry:
    """A name -> object map with decorator registration and helpful lookup errors."""

    def __init__(self, kind, validator=None):
        self.kind = kind
        self._items = {}
        self._validator = validator

    def register(self, name_or_obj=None):
        """Decorator: `@reg.register`, `@reg.register()` or `@reg.register("name")`."""

        def decorate(obj, name=None):
            name = name or default_name(obj)
            if self._validator:
                self._validator(name, obj)
            if name in self._items and not _same_definition(self._items[name], obj):
                raise KeyError(f"{self.kind} {name!r} is already registered (by {self._items[name].__module__}); "
                               "choose another name.")
            self._items[name] = obj
            if inspect.isclass(obj):
                obj.REGISTERED_NAME = name
            return obj

        if callable(name_or_obj):
            return decorate(name_or_obj)
        return lambda obj: decorate(obj, name_or_obj)

    def __contains__(self, name):
        load_builtins()
        return name in self._items

    def __getitem__(self, name):
        load_builtins()
        if name not in self._items:
            close = difflib.get_close_matches(name, self._items, n=5, cutoff=0.5)
            hint = f" Did you mean: {', '.join(close)}?" if close else ""
            raise NotRegisteredError(f"unknown {self.kind} {name!r}.{hint} ({len(self._items)} registered; "
                                     "--registry_help lists them; a --t2t_usr_dir can add more.)")
        return self._items[name]

    def names(self, prefix=None):
        load_builtins()
        return sorted(n for n in self._items if prefix is None or n.startswith(prefix))


def _check_problem_name(name, obj):
    if name.endswith(("_rev", "_copy")):
        raise ValueError(f"problem names may not end in _rev or _copy ({name!r}): those suffixes select the "
                         "reversed or copied variant of a base problem.")


def _check_ranged(name, fn):
    if len(inspect.signature(fn).parameters) != 1:
        raise ValueError(f"ranged hparams {name!r} must take exactly one argument (a RangedHParams).")


MODELS = Registry("model")
HPARAMS = Registry("hparams set")
RANGED_HPARAMS = Registry("ranged hparams set", _check_ranged)
PROBLEMS = Registry("problem", _check_problem_name)

register_model = MODELS.register
register_hparams = HPARAMS.register
register_ranged_hparams = RANGED_HPARAMS.register
register_problem = PROBLEMS.register


def model(name):
    """The registered model class."""
    return MODELS[name]


def hparams(name):
    """A new HParams object from the registered set `name`."""
    result = HPARAMS[name]()
    if result is None:
        raise TypeError(f"hparams set {name!r} returned None: the function must `return hparams`.")
    return result


def ranged_hparams(name):
    """A RangedHParams filled by the registered ranged set `name`."""
    from sinkhorn_t2t.hparam import RangedHParams

    rhp = RangedHParams()
    RANGED_HPARAMS[name](rhp)
    return rhp


def parse_problem_name(name):
    """`base_rev` / `base_copy` -> (base name, was_reversed, was_copy)."""
    if name.endswith("_rev"):
        return name[:-4], True, False
    if name.endswith("_copy"):
        return name[:-5], False, True
    return name, False, False


def problem(name):
    """A new instance of the registered problem; `_rev` / `_copy` suffixes as in T2T."""
    base, was_reversed, was_copy = parse_problem_name(name)
    if base not in PROBLEMS:
        base, was_reversed, was_copy = name, False, False  # the lookup below names `name` in its error
    return PROBLEMS[base](was_reversed=was_reversed, was_copy=was_copy)


def list_models():
    return MODELS.names()


def list_hparams(prefix=None):
    return HPARAMS.names(prefix)


def list_ranged_hparams():
    return RANGED_HPARAMS.names()


def list_problems():
    return PROBLEMS.names()


def help_string():
    """Every registry and its names, for `--registry_help`."""
    parts = []
    for reg in (MODELS, HPARAMS, RANGED_HPARAMS, PROBLEMS):
        names = reg.names()
        parts.append(f"{reg.kind}s ({len(names)}):\n" + "\n".join(f"  * {n}" for n in names))
    return "\n".join(parts)
