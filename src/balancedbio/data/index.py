"""Derived views of the knowledge graph that constructors draw seeds and distractors from.

Built lazily (each ~0.5-1 s on the full graph) and memoized per graph:

* direct phenotype annotations of every OMIM/ORPHA disease and the reverse index
  (phenotype -> diseases), which gives *specificity* (a phenotype annotated to few diseases
  discriminates) and *neighbours* (diseases sharing phenotypes: differentials, distractors);
* *groundability*: a name is usable in generated text only if ``kg.ground`` reads it back
  as one mention covering the whole name with the intended id (or a same-name id), so
  the validators, which re-ground the text, see exactly the entities we meant.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from functools import cached_property
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balancedbio.common import atomic_write_text
from balancedbio.knowledge import normalize

if TYPE_CHECKING:
    from balancedbio.knowledge import KnowledgeGraph, Verdict

#: HPO frequency terms that make a poor presenting finding (very rare, excluded).
PHENOTYPIC_ABNORMALITY = "HP:0000118"
DISEASE_PREFIXES = ("OMIM:", "ORPHA:", "MONDO:", "DECIPHER:")
RARE_FREQUENCIES = frozenset({"HP:0040284", "HP:0040285"})
#: relations :meth:`KnowledgeIndex.holds` answers without composing a reason
_SHORTCUTS = frozenset({"has_phenotype", "is_a", "name"})
_AWKWARD = re.compile(r"[,;()\[\]/]|\bor\b|\bvs\b")


class KnowledgeIndex:
    """Memoized indexes over one graph (see the module docstring)."""

    def __init__(self, kg: KnowledgeGraph, max_phenotype_diseases: int = 60) -> None:
        self.kg = kg
        self.max_phenotype_diseases = max_phenotype_diseases
        self._grounds: dict[str, bool] = {}
        self._aliases: dict[str, tuple[str, ...]] = {}
        self._specific: dict[str, bool] = {}
        self._verdicts: dict[tuple[Any, Any, Any], Verdict] = {}
        self._truths: dict[tuple[Any, Any, Any], bool] = {}
        self._findings: dict[str, tuple[str, ...]] = {}
        self._disease_aliases: dict[str, tuple[str, ...]] = {}
        self._ancestors: dict[str, frozenset[str]] = {}
        self._sorted_direct: dict[str, tuple[str, ...]] = {}
        self._saved = 0

    # ------------------------------------------------------------------ persistence

    def load_memo(self, path: Path) -> None:
        """Reuse groundability/specificity verdicts saved by an earlier run (same graph)."""
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return
        self._findings.clear()  # they read the verdicts loaded here
        self._grounds.update(data.get("grounds", {}))
        if data.get("max_phenotype_diseases") == self.max_phenotype_diseases:
            self._specific.update(data.get("specific", {}))
        self._saved = len(self._grounds) + len(self._specific)

    def save_memo(self, path: Path) -> None:
        """Persist the verdicts (they depend only on the graph) when they grew."""
        if len(self._grounds) + len(self._specific) <= self._saved:
            return
        data = {
            "max_phenotype_diseases": self.max_phenotype_diseases,
            "grounds": self._grounds,
            "specific": self._specific,
        }
        try:
            atomic_write_text(path, json.dumps(data, separators=(",", ":")))
            self._saved = len(self._grounds) + len(self._specific)
        except OSError:  # a read-only cache only costs time
            pass

    # ------------------------------------------------------------------ annotations

    @cached_property
    def diseases(self) -> list[str]:
        """OMIM and ORPHA diseases (sorted ids): the ones HPO annotates directly."""
        kg = self.kg
        return sorted(
            kg.ids(kind="disease", source="omim") + kg.ids(kind="disease", source="orpha")
        )

    @cached_property
    def direct(self) -> dict[str, frozenset[str]]:
        """Disease -> directly annotated phenotypes (NOT annotations excluded)."""
        return {d: self.kg.disease_phenotypes(d, propagate=False) for d in self.diseases}

    @cached_property
    def reverse(self) -> dict[str, frozenset[str]]:
        """Phenotype -> diseases annotated with it directly."""
        acc: dict[str, set[str]] = defaultdict(set)
        for d, phenos in self.direct.items():
            for p in phenos:
                acc[p].add(d)
        return {p: frozenset(ds) for p, ds in acc.items()}

    def specific(self, phenotype: str) -> bool:
        """A phenotypic abnormality annotated to at most ``max_phenotype_diseases`` diseases,
        with a groundable name (onset, frequency and modifier terms are not findings)."""
        got = self._specific.get(phenotype)
        if got is None:
            n = len(self.reverse.get(phenotype, ()))
            got = (
                0 < n <= self.max_phenotype_diseases
                and PHENOTYPIC_ABNORMALITY in self.kg.ancestors(phenotype)
                and self.grounds(phenotype)
            )
            self._specific[phenotype] = got
        return got

    def findings(self, disease: str) -> list[str]:
        """Specific, groundable phenotypes of a disease that are not (very) rare in it; sorted
        (memoized: constructors ask again for the same diseases)."""
        got = self._findings.get(disease)
        if got is None:
            rare = self.kg.unusual_phenotypes(disease, RARE_FREQUENCIES)
            direct = self.direct.get(disease, ())
            got = self._findings[disease] = tuple(
                sorted(p for p in direct if p not in rare and self.specific(p))
            )
        return list(got)

    def sorted_direct(self, disease: str) -> tuple[str, ...]:
        """``sorted(direct[disease])``, memoized: distractor pools filter it in order instead
        of sorting a set difference per seed."""
        got = self._sorted_direct.get(disease)
        if got is None:
            got = self._sorted_direct[disease] = tuple(sorted(self.direct.get(disease, ())))
        return got

    def neighbours(self, disease: str, phenotypes: Iterable[str]) -> dict[str, int]:
        """Other diseases sharing any of ``phenotypes`` -> how many they share."""
        reverse = self.reverse
        out = Counter(chain.from_iterable(reverse.get(p, ()) for p in phenotypes))
        out.pop(disease, None)
        return out

    def ancestors(self, nid: str) -> frozenset[str]:
        """``kg.ancestors(nid)``, memoized (distractor checks ask for the same phenotypes)."""
        got = self._ancestors.get(nid)
        if got is None:
            got = self._ancestors[nid] = self.kg.ancestors(nid)
        return got

    # ------------------------------------------------------------------ names

    def grounds(self, nid: str) -> bool:
        """Does the node's name ground back, whole, to itself (or a same-name id)?"""
        got = self._grounds.get(nid)
        if got is None:
            got = self._grounds[nid] = self._check_grounds(nid)
        return got

    def _check_grounds(self, nid: str) -> bool:
        name = self.kg.name_of(nid)
        mentions = self.kg.ground(name)
        if len(mentions) != 1 or mentions[0].start != 0 or mentions[0].end != len(name):
            return False
        return mentions[0].id == nid or nid in self.same_name(mentions[0].id)

    def plain_name(self, nid: str) -> bool:
        """Groundable and free of commas, brackets, slashes and "or" (safe in lists)."""
        return self.grounds(nid) and not _AWKWARD.search(self.kg.name_of(nid))

    def same_name(self, nid: str) -> tuple[str, ...]:
        """``nid`` and every id whose name or exact synonym is ``nid``'s name."""
        got = self._aliases.get(nid)
        if got is None:
            canon = self.kg.resolve(nid)
            if canon is None:
                got = ()
            else:
                got = tuple(dict.fromkeys([canon, *self.kg.lookup(self.kg.name_of(canon))]))
            self._aliases[nid] = got
        return got

    def disease_aliases(self, disease: str) -> tuple[str, ...]:
        """Disease ids naming the same disease (OMIM, ORPHA, MONDO entries of one name);
        memoized (cases ask for every differential candidate)."""
        got = self._disease_aliases.get(disease)
        if got is None:
            got = tuple(i for i in self.same_name(disease) if i.startswith(DISEASE_PREFIXES))
            self._disease_aliases[disease] = got
        return got

    def check(self, relation: Any, subject: Any, obj: Any = None) -> Verdict:
        """``kg.check`` of one fact, memoized for the run: the graph is read-only, so a fact
        a constructor checked gets the same verdict when the validator checks it again."""
        key = (relation, subject, obj)
        try:
            return self._verdicts[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable (malformed) subject/object: no memo
            return self.kg.check({"relation": relation, "subject": subject, "object": obj})
        if len(self._verdicts) >= 1_000_000:
            self._verdicts.clear()
        got = self._verdicts[key] = self.kg.check(
            {"relation": relation, "subject": subject, "object": obj}
        )
        return got

    def holds(self, relation: Any, subject: Any, obj: Any = None) -> bool:
        """``check(...).valid``; ``has_phenotype``, ``is_a`` and ``name`` facts skip composing
        a reason (most distractor checks fail). ``is_a``/``name`` answers are memoized for the
        run, like :meth:`check`: the validator asks again about the distractors kept."""
        if type(relation) is not str or relation not in _SHORTCUTS:
            return self.check(relation, subject, obj).valid
        if relation == "has_phenotype":
            return self.kg.checker.holds_phenotype(subject, obj)
        key = (relation, subject, obj)
        try:
            got = self._truths.get(key)
        except TypeError:  # an unhashable (malformed) subject/object: no memo
            return self.check(relation, subject, obj).valid
        if got is None:
            checker = self.kg.checker
            fast = checker.holds_is_a if relation == "is_a" else checker.holds_name
            if len(self._truths) >= 1_000_000:
                self._truths.clear()
            got = self._truths[key] = fast(subject, obj)
        return got

    def has_phenotype_any(self, diseases: Iterable[str], phenotype: str) -> bool:
        """True-path check against any of ``diseases`` (``kg.check``'s verdict, no reason)."""
        return self.kg.checker.holds_phenotype_any(diseases, phenotype)

    def display(self, nid: str) -> str:
        """A phenotype name as it reads mid-sentence ("Arachnodactyly" -> "arachnodactyly")."""
        return lower_first(self.kg.name_of(nid))


def lower_first(name: str) -> str:
    """Lower-case the first letter of a phenotype name ("Tall stature" -> "tall stature")
    unless the first word looks like an acronym ("EEG abnormality")."""
    first = name.split(" ", 1)[0]
    if first[:1].isupper() and (len(first) == 1 or first[1:].islower()):
        return name[0].lower() + name[1:]
    return name


def name_key(text: str) -> str:
    """Normalized name used to keep options distinct (memoized per text, bounded: option
    texts are entity names that recur across items)."""
    try:
        got = _NAME_KEYS.get(text)
    except TypeError:  # unhashable (malformed option): normalize reports it
        return normalize(text)
    if got is None:
        if len(_NAME_KEYS) >= _MAX_NAME_KEYS:
            _NAME_KEYS.clear()
        got = _NAME_KEYS[text] = normalize(text)
    return got


_NAME_KEYS: dict[str, str] = {}
_MAX_NAME_KEYS = 100_000


__all__ = ["KnowledgeIndex", "lower_first", "name_key"]
