"""Fingerprints: small, serialisable per-model features that can be compared without the weights."""

from heredity.checkpoint._paths import pair_document_of
from heredity.fingerprint.extract import extract
from heredity.fingerprint.io import FORMAT, is_fingerprint_file, load, save
from heredity.fingerprint.model import SCHEMA, Fingerprint, inspect_fingerprint

__all__ = ["FORMAT", "SCHEMA", "Fingerprint", "extract", "inspect_fingerprint", "is_fingerprint_file", "load",
           "pair_document_of", "save"]
