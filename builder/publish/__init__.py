"""Publishing a build: the Hub layout on disk, its dataset card, and the push.

- hub.py: `export_local` (one Parquet config per language, the audit config, the card) and `push`
- export_dir.py: which files in the output folder an export owns
- card/: the dataset card (statistics, plots, YAML metadata)
- provenance.py: what a published dataset may say about where it was built
- citation.py: the paper's BibTeX entry
"""
