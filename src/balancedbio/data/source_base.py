"""The interface every seed source implements (built-in ontologies and user data)."""

from __future__ import annotations

from typing import Any


class Source:
    """Base class: ``name``, ``version``, the tasks fed and their pools."""

    name: str = ""
    tasks: tuple[str, ...] = ()

    @property
    def version(self) -> str:
        return "unknown"

    def pool(self, task: str) -> list[str]:
        raise NotImplementedError

    def payload(self, key: str) -> dict[str, Any] | None:
        """Extra data of a seed key (user sources); built-in keys are ontology ids."""
        return None

    def split_key(self, entity: str) -> str:
        """The unit the train/eval partition assigns (default: the entity itself)."""
        return entity


__all__ = ["Source"]
