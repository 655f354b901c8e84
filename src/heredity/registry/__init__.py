"""The fingerprint registry: a SQLite store of content-addressed fingerprints, nearest-base search with
Holm's correction over the entries searched, corpus scans, and claim checks.

- :class:`~heredity.registry.store.Registry` — open / create a registry file (``add``, ``remove``, ...).
- :func:`~heredity.registry.search.search` — which entries is a fingerprint related to.
- :func:`~heredity.registry.ingest.ingest` — a source (path, fingerprint file, hub id) to its fingerprint.
"""

from heredity.registry.ingest import Ingested, ingest
from heredity.registry.search import Match, Outcome, SearchResult, search
from heredity.registry.store import AddResult, Entry, Registry, RegistryError, default_path

__all__ = ["AddResult", "Entry", "Ingested", "Match", "Outcome", "Registry", "RegistryError", "SearchResult",
           "default_path", "ingest", "search"]
