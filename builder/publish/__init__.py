"""Publishing a build: the Hub layout on disk, its dataset card, and the push.

- export.py: `export_local`, one Parquet config per language, the audit config and the card
- push.py: `push`, the export folder to a Hub repo, only what changed
- export_dir.py: which files in the output folder an export owns
- card/: the dataset card (statistics, plots, YAML metadata)
- provenance.py: what a published dataset may say about where it was built
- citation.py: the paper's BibTeX entry
"""
