"""X-Instruction: cross-lingual instruction data from natural web text (Li et al., 2024)."""

__version__ = "0.1.0"
