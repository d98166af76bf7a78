"""Corpus readers (embedded demo sample, local files, Hub datasets, streamed) and text cleaning."""

from .errors import CorpusError, MissingColumnError, NotUTF8Error
from .readers import read_corpus, read_seeds

__all__ = ["CorpusError", "MissingColumnError", "NotUTF8Error", "read_corpus", "read_seeds"]
