"""One constructor per task (see :data:`balancedbio.data.config.TASKS`), each with a
template mode and, where it makes sense, a model mode (:mod:`.model_mode`)."""

from __future__ import annotations

from balancedbio.config import choice_error
from balancedbio.data.constructors.base import BuildContext, Constructor
from balancedbio.data.constructors.instruction import INSTRUCTION_CONSTRUCTORS
from balancedbio.data.constructors.integrated import INTEGRATED_CONSTRUCTORS
from balancedbio.data.constructors.knowledge import KNOWLEDGE_CONSTRUCTORS
from balancedbio.data.constructors.reasoning import REASONING_CONSTRUCTORS

REGISTRY: dict[str, type[Constructor]] = {
    c.task: c
    for c in (
        *KNOWLEDGE_CONSTRUCTORS,
        *REASONING_CONSTRUCTORS,
        *INSTRUCTION_CONSTRUCTORS,
        *INTEGRATED_CONSTRUCTORS,
    )
}


def make_constructors(ctx: BuildContext, tasks: list[str]) -> dict[str, Constructor]:
    """Task -> constructor instance; an unknown task raises listing the valid ones."""
    out = {}
    for task in tasks:
        if task not in REGISTRY:
            raise choice_error("task", task, REGISTRY)
        out[task] = REGISTRY[task](ctx)
    return out


__all__ = ["REGISTRY", "BuildContext", "Constructor", "make_constructors"]
