"""The options a client gives a training job, declared once. Everything else is made from this
table: the upload's chunk-0 form fields (and the refusal of any other field), the retrain body,
what is stored in the job record and shown as its status document's `options`, what the
duplicate index compares, what the pipeline gets, the CLI's flags and `/api/info`.

Adding an option: a row here, a field of JobOptions (jobs/models.py), and the code that uses
it. Light to import: the CLI builds its flags from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modeltrain import metrics
from modeltrain.constants import Task
from modeltrain.exceptions import InvalidInput
from modeltrain_model import families as family_registry

if TYPE_CHECKING:
    from modeltrain.config import Settings


@dataclass(frozen=True)
class Given:
    """What a value is parsed with besides itself."""

    settings: Settings
    filename: str  # the upload's display name (a model name's default)


@dataclass(frozen=True)
class Option:
    field: str  # its name on the wire: form field, retrain body key, stored key, CLI --flag
    attr: str  # the JobOptions attribute
    help: str  # one line, for the CLI and /api/info
    # The value from what a client sent (a form's text, or a JSON value from a retrain body;
    # None when not given): raises InvalidInput naming the field.
    parse: Callable[[Any, Given], Any]
    json_types: tuple[type, ...]  # the JSON types a retrain body may give it (None always)
    dump: Callable[[Any], Any] = lambda value: value  # the value as stored (JSON)
    load: Callable[[Any], Any] = lambda value: value  # and back
    # Part of what makes two uploads of the same bytes duplicates even at its default. Options
    # added later join the duplicate key only when set, so that earlier keys stay the same.
    always_in_key: bool = False
    pipeline: str | None = None  # the pipeline's TrainOptions attribute it fills, if any
    metavar: str | None = None  # the CLI's name for its value
    choices: tuple[str, ...] | None = None  # the CLI's and /api/info's choices
    columns: bool = False  # its value names columns: each must be in the file's header


def parse_task(task: Any, given: Given | None = None) -> Task:
    try:
        return Task(task or Task.AUTO)
    except ValueError:
        raise InvalidInput(
            "task must be one of: auto, classification, regression", field="task"
        ) from None


def check_budget(settings: Settings, budget: float | None) -> float:
    budget = settings.default_time_budget if budget is None else budget
    if not 1 <= budget <= settings.max_time_budget:
        raise InvalidInput(
            f"timeBudget must be between 1 and {settings.max_time_budget:g} seconds",
            field="timeBudget",
        )
    return float(budget)


def _budget(value: Any, given: Given) -> float:
    if isinstance(value, str):
        try:
            value = float(value) if value.strip() else None
        except ValueError:
            raise InvalidInput(
                "timeBudget must be a number of seconds", field="timeBudget"
            ) from None
    return check_budget(given.settings, value)


def parse_families(families: Any, given: Given | None = None) -> tuple[str, ...] | None:
    """A comma-separated list (or a JSON list) of the model families to search, by their names
    or aliases, None for all of them; in the registry's order."""
    if families is None:
        return None
    names = families.split(",") if isinstance(families, str) else families
    asked = [str(n).strip().lower() for n in names if str(n).strip()]
    if not asked:
        return None
    chosen, unknown = set(), []
    for name in asked:
        try:
            chosen.add(family_registry.resolve(name))
        except family_registry.UnknownFamily:
            unknown.append(name)
    if unknown:
        raise InvalidInput(
            f"families: unknown {', '.join(map(repr, unknown))}; the families are: "
            + ", ".join(family_registry.names()),
            field="families",
        )
    return tuple(f for f in family_registry.names() if f in chosen)


def clean_text(value: Any, given: Given | None = None) -> str | None:
    """A name (a column's, a class's), stripped; None for none."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def parse_columns(value: Any, given: Given | None = None) -> tuple[str, ...] | None:
    """Column names, comma-separated or a JSON list; None for none."""
    if value is None:
        return None
    names = value.split(",") if isinstance(value, str) else value
    picked = tuple(dict.fromkeys(str(n).strip() for n in names if str(n).strip()))
    return picked or None


def parse_metric(value: Any, given: Given | None = None) -> str | None:
    """A metric of the table (modeltrain.metrics), None for the task's default."""
    if value is None or not str(value).strip():
        return None
    name = str(value).strip().lower()
    if name not in metrics.BY_NAME:
        raise InvalidInput(
            f"metric: unknown {name!r}; for classes: "
            + ", ".join(metrics.names(Task.CLASSIFICATION))
            + "; for values: "
            + ", ".join(metrics.names(Task.REGRESSION)),
            field="metric",
        )
    return name


def check_together(options: Any) -> None:
    """What the options tell together, before any data: a metric of the other task than the
    one given, or a positive class for values, is refused naming the field (with task=auto
    the metric decides the task)."""
    metric = metrics.BY_NAME[options.metric] if options.metric else None
    task = options.task if options.task != Task.AUTO or metric is None else metric.task
    if metric is not None and task != metric.task:
        raise InvalidInput(
            f"metric {metric.name!r} is for {metric.task.value}, and task is {task.value}; "
            f"its metrics are: {', '.join(metrics.names(task))}",
            field="metric",
        )
    if options.positive_class is not None and task == Task.REGRESSION:
        raise InvalidInput("positiveClass applies to classes, not regression",
                           field="positiveClass")  # fmt: skip


def _model_name(value: Any, given: Given) -> str:
    from modeltrain.registry.model_ids import safe_model_name  # the registry imports MLflow

    return safe_model_name(value or given.filename)


TRAINING: tuple[Option, ...] = (
    Option("target", "target", "column to predict (default: the last one)", clean_text,
           (str,), always_in_key=True, pipeline="target", metavar="COLUMN"),
    Option("task", "task", "the task (default: told from the target)", parse_task, (str,),
           dump=lambda task: task.value, load=lambda raw: Task(raw or Task.AUTO),
           always_in_key=True, pipeline="task", choices=tuple(t.value for t in Task)),
    Option("modelName", "model_name", "registry name (default: from the file name)",
           _model_name, (str,), always_in_key=True, metavar="NAME"),
    Option("timeBudget", "time_budget", "seconds the job may take", _budget, (int, float),
           load=float, always_in_key=True, metavar="SECONDS"),
    Option("families", "families",
           f"model families to search, comma-separated: {', '.join(family_registry.names())} "
           "(default: all that suit the data)",
           parse_families, (str, list),
           dump=lambda names: None if names is None else list(names),
           load=lambda raw: None if raw is None else tuple(raw), pipeline="families",
           metavar="NAMES"),
    Option("excludeColumns", "exclude_columns",
           "columns never used as features, comma-separated (an identifier, a leaky outcome)",
           parse_columns, (str, list), dump=lambda names: None if names is None else list(names),
           load=lambda raw: None if raw is None else tuple(raw), pipeline="exclude_columns",
           metavar="COLUMNS", columns=True),
    Option("metric", "metric",
           "what the search optimises and reports (default: roc_auc for classes, r2 for values)",
           parse_metric, (str,), pipeline="metric", choices=tuple(metrics.names())),
    Option("positiveClass", "positive_class",
           "the class binary metrics are about (default: the rarer one)", clean_text, (str,),
           pipeline="positive_class", metavar="CLASS"),
    Option("weightColumn", "weight_column",
           "a column of non-negative row weights (never a feature)", clean_text, (str,),
           pipeline="weight_column", metavar="COLUMN", columns=True),
    Option("timeColumn", "time_column",
           "rows are ordered in time by this column: validate on later rows", clean_text, (str,),
           pipeline="time_column", metavar="COLUMN", columns=True),
    Option("groupColumn", "group_column",
           "rows of one group never on both sides of a split (never a feature)", clean_text,
           (str,), pipeline="group_column", metavar="COLUMN", columns=True),
)  # fmt: skip
BY_FIELD = {option.field: option for option in TRAINING}


def parse_options(raw: dict[str, Any], given: Given) -> dict[str, Any]:
    """JobOptions attributes from the fields a client gave on chunk 0, each parsed (its
    default where not given)."""
    return {option.attr: option.parse(raw.get(option.field), given) for option in TRAINING}


def parse_given(raw: dict[str, Any], given: Given) -> dict[str, Any]:
    """JobOptions attributes of only the fields given (a retrain changes those)."""
    unknown_fields(set(raw), set(BY_FIELD))
    out = {}
    for option in TRAINING:
        if option.field not in raw:
            continue
        value = raw[option.field]
        wrong = value is not None and not isinstance(value, option.json_types)
        if wrong or isinstance(value, bool):  # (a JSON boolean is no option's value)
            raise InvalidInput(f"{option.field} has the wrong JSON type", field=option.field)
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise InvalidInput(f"{option.field} must be a list of names", field=option.field)
        out[option.attr] = option.parse(value, given)
    return out


def named_columns(options: Any) -> dict[str, tuple[str, ...]]:
    """The columns each column option names, by the option's field: of JobOptions, or of the
    pipeline's TrainOptions (the same attribute names)."""
    out = {}
    for option in TRAINING:
        value = getattr(options, option.attr) if option.columns else None
        if value:
            out[option.field] = (value,) if isinstance(value, str) else tuple(value)
    return out


def check_columns(options: Any, columns: list[str]) -> None:
    """Refuse a column option naming a column the data lacks, or the target (422, its field)."""
    target = options.target or (columns[-1] if columns else None)
    for field, names in named_columns(options).items():
        missing = [n for n in names if n not in columns]
        if missing:
            raise InvalidInput(
                f"{field}: {', '.join(map(repr, missing))} not in the header; columns are: "
                + ", ".join(columns[:50]),
                field=field,
            )
        if target in names:
            raise InvalidInput(f"{field} names the target column {target!r}", field=field)


def unknown_fields(given: set[str], known: set[str]) -> None:
    """Refuse, naming it, the first field not among ``known`` (a request's own fields and,
    where it takes them, the training options)."""
    unknown = sorted(given - known)
    if unknown:
        raise InvalidInput(
            f"unknown field {unknown[0]!r}; the fields are: {', '.join(sorted(known))}",
            field=unknown[0],
        )
