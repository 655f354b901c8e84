"""Fingerprints: small, serialisable per-model features that can be compared without the weights."""

from heredity.fingerprint.extract import extract
from heredity.fingerprint.io import is_fingerprint_file, load, save
from heredity.fingerprint.model import SCHEMA, Fingerprint

__all__ = ["SCHEMA", "Fingerprint", "extract", "is_fingerprint_file", "load", "save"]
