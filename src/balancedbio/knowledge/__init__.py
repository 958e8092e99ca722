"""BalancedBio knowledge layer: HPO, MONDO and ICD-10-CM as one validated, cached graph.

Typical use::

    from balancedbio.knowledge import load_knowledge

    kg = load_knowledge()                      # built once, then loaded from cache
    kg["HP:0001250"].name                      # 'Seizure'
    kg.check({"relation": "is_a", "subject": "HP:0001250", "object": "HP:0000118"})
    kg.ground("Recurrent seizures and short stature.")

Only ``balancedbio.config`` and ``balancedbio.common`` are imported from the rest of
BalancedBio; no ML libraries are needed here.
"""

from balancedbio.knowledge.cache import CacheError, cache_dir_for, default_graph, load_knowledge
from balancedbio.knowledge.config import VALID_SOURCES, KnowledgeConfig
from balancedbio.knowledge.facts import RELATIONS, Fact, FactChecker, Verdict, check
from balancedbio.knowledge.graph import KnowledgeGraph
from balancedbio.knowledge.grounding import Grounder, Mention
from balancedbio.knowledge.normalize import normalize
from balancedbio.knowledge.records import Annotation, Edge, Node, Synonym, Xref

__all__ = [
    "RELATIONS",
    "VALID_SOURCES",
    "Annotation",
    "CacheError",
    "Edge",
    "Fact",
    "FactChecker",
    "Grounder",
    "KnowledgeConfig",
    "KnowledgeGraph",
    "Mention",
    "Node",
    "Synonym",
    "Verdict",
    "Xref",
    "cache_dir_for",
    "check",
    "default_graph",
    "load_knowledge",
    "normalize",
]
