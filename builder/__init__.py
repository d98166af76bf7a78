"""X-Instruction: cross-lingual instruction data from natural web text (Li et al., 2024)."""

__version__ = "0.2.0"
