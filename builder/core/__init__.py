"""The lowest layer: what every other package stands on, importing nothing of the builder's above it.

- hashing.py: `stable_hash` and `fingerprint`, the keys of caches and work-dir folders
- schema.py: the column types of every stage's rows (Arrow/`datasets` features)
- workdir.py: stage outputs as checksummed Parquet shards in the work dir, found again on resume
- funnel.py: how many rows each stage kept per language, and why the rest left
"""
