"""MedCalc-Bench adapter: the clinical calculators of ``medcalc-bench`` as gold-answer oracles.

Each calculator module of the ``medcalc`` package is imported on its own; one that fails
to import is recorded as broken (with the error), not raised. For the calculators listed
in :data:`INPUTS` we know the parameter dict the function expects ((value, unit) tuples,
booleans, option strings), so :func:`make_case` can draw valid random inputs from a
seeded ``random.Random`` and take the calculator's own output as gold: its ``Answer`` and
its ``Explanation`` (the worked steps). The rest are listed as unsupported, with why.

Output kinds and limits follow MedCalc-Bench (``evaluation/evaluate.py`` and the dataset's
'Lower Limit'/'Upper Limit' columns): rule-based scores are ``integer`` (exact),
equation-based results are ``decimal`` (gold +- 5 %), due/conception dates are ``date``
and gestational age is ``weeks_days``. IDs are MedCalc-Bench's 'Calculator ID'.
"""

from __future__ import annotations

import copy
import functools
import importlib
import importlib.metadata
import inspect
import pkgutil
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from balancedbio.rewards.answers import DEFAULT_REL_TOL, OutputKind, numeric_bounds
from balancedbio.rewards.calculator_specs import BENCH, INPUTS, NOT_DRIVEN, SELF_CHECKS

try:
    MEDCALC_VERSION = importlib.metadata.version("medcalc-bench")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - dependency missing
    MEDCALC_VERSION = "not installed"


def _self_check(calculator_id: str, fn: Callable[[dict[str, Any]], Any]) -> str:
    """'' if the calculator runs on a generated input and passes its textbook check."""
    try:
        fn(random_inputs(calculator_id, random.Random(0)))
        if calculator_id in SELF_CHECKS:
            inputs, is_right, expected = SELF_CHECKS[calculator_id]
            answer = fn(copy.deepcopy(inputs))["Answer"]
            if not is_right(answer):
                return f"self-check failed: expected {expected}, medcalc gives {answer!r}"
    except Exception as exc:
        return f"self-check crashed: {type(exc).__name__}: {exc}"
    return ""


@dataclass(frozen=True)
class CalculatorInfo:
    """One medcalc calculator module: whether it can be driven here, and why not."""

    calculator_id: str  # medcalc module name, e.g. "bmi_calculator"
    name: str
    bench_id: int | None  # MedCalc-Bench 'Calculator ID'
    output_kind: OutputKind | None
    supported: bool
    reason: str = ""  # import error or why it is unsupported
    function: Callable[[dict[str, Any]], dict[str, Any]] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class CalculatorCase:
    """A generated calculator question with its gold answer and worked explanation."""

    calculator_id: str
    name: str
    inputs: dict[str, Any]
    answer: float | int | str | tuple[int, int]
    explanation: str
    output_kind: OutputKind
    lower: float | None
    upper: float | None

    @property
    def answer_text(self) -> str:
        """The gold answer written as MedCalc-Bench would accept it."""
        if self.output_kind == "weeks_days":
            weeks, days = self.answer  # type: ignore[misc]
            return f"({weeks} weeks, {days} days)"
        return str(self.answer)

    def to_row(self) -> dict[str, Any]:
        """Dataset columns read by the ``numeric_accuracy`` reward (plus provenance)."""
        return {
            "answer": self.answer_text,
            "lower": self.lower,
            "upper": self.upper,
            "output_kind": self.output_kind,
            "calculator_id": self.calculator_id,
            "explanation": self.explanation,
            "medcalc_version": MEDCALC_VERSION,
        }


def _main_function(module: Any, preferred: str | None) -> Callable[..., Any] | None:
    if preferred and callable(getattr(module, preferred, None)):
        return getattr(module, preferred)
    own = [
        f
        for n, f in vars(module).items()
        if inspect.isfunction(f) and f.__module__ == module.__name__ and "expla" in n
    ]
    return own[-1] if own else None


@functools.cache
def list_calculators() -> dict[str, CalculatorInfo]:
    """Every medcalc calculator module, imported one by one; broken ones carry the error."""
    try:
        import medcalc
    except ImportError as exc:  # pragma: no cover - dependency missing
        return {"medcalc": CalculatorInfo("medcalc", "medcalc", None, None, False, repr(exc))}
    out: dict[str, CalculatorInfo] = {}
    for mod in sorted(pkgutil.iter_modules(medcalc.__path__), key=lambda m: m.name):
        if mod.ispkg:
            continue
        bench_id, name, kind = BENCH.get(mod.name, (None, mod.name, None))
        try:
            module = importlib.import_module(f"medcalc.{mod.name}")
        except Exception as exc:  # a broken calculator is recorded, never raised
            reason = f"import failed: {type(exc).__name__}: {exc}"
            out[mod.name] = CalculatorInfo(mod.name, name, bench_id, kind, False, reason)
            continue
        preferred, _ = INPUTS.get(mod.name, (None, None))
        fn = _main_function(module, preferred)
        if fn is None:
            reason = "no calculator function found in module"
        elif kind is None:
            reason = "not a MedCalc-Bench calculator (output kind unknown)"
        elif mod.name not in INPUTS:
            reason = NOT_DRIVEN
        else:
            reason = _self_check(mod.name, fn)
        out[mod.name] = CalculatorInfo(
            mod.name, name, bench_id, kind, not reason, reason, function=fn
        )
    return out


def supported_calculators() -> list[str]:
    """Ids of the calculators :func:`make_case` can drive."""
    return [cid for cid, info in list_calculators().items() if info.supported]


def unsupported_calculators() -> dict[str, str]:
    """Id -> reason, for broken or not-driven calculators."""
    return {cid: info.reason for cid, info in list_calculators().items() if not info.supported}


def random_inputs(calculator_id: str, rng: random.Random) -> dict[str, Any]:
    """Valid random inputs for a supported calculator, in the dict format it expects."""
    if calculator_id not in INPUTS:
        raise KeyError(f"no input generator for calculator {calculator_id!r}")
    _, gens = INPUTS[calculator_id]
    if callable(gens):
        return gens(rng)
    return {key: gen(rng) for key, gen in gens.items()}


def compute_case(calculator_id: str, inputs: Mapping[str, Any]) -> CalculatorCase:
    """Run a calculator on ``inputs`` and package its answer as a gradable case."""
    info = list_calculators().get(calculator_id)
    if info is None or info.function is None or info.output_kind is None:
        raise KeyError(f"calculator {calculator_id!r} is not available: {info and info.reason}")
    inputs = copy.deepcopy(dict(inputs))
    result = info.function(copy.deepcopy(inputs))  # medcalc mutates its argument
    answer, kind = result["Answer"], info.output_kind
    lower = upper = None
    if kind == "weeks_days":
        answer = tuple(int(str(part).split()[0]) for part in answer)
    elif kind in ("decimal", "integer"):
        if kind == "integer":
            if float(answer) != int(float(answer)):
                raise ValueError(f"{calculator_id}: integer calculator returned {answer!r}")
            answer = int(float(answer))
            lower = upper = float(answer)
        else:
            answer = float(answer)
            lower, upper = numeric_bounds(answer, rel_tol=DEFAULT_REL_TOL)
    return CalculatorCase(
        calculator_id=calculator_id,
        name=info.name,
        inputs=inputs,
        answer=answer,
        explanation=str(result.get("Explanation", "")).strip(),
        output_kind=kind,
        lower=lower,
        upper=upper,
    )


def make_case(calculator_id: str, rng: random.Random | int) -> CalculatorCase:
    """A random case for ``calculator_id``, reproducible from the seed / ``random.Random``."""
    if not isinstance(rng, random.Random):
        rng = random.Random(rng)
    return compute_case(calculator_id, random_inputs(calculator_id, rng))
