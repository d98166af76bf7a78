"""The build, from settings to published tables.

- runner.py: `build()` and `Pipeline`, which run the stages in order for every language
- stage_configs.py: how a `BuildConfig` becomes each stage's config, block and fingerprint
- workdir.py: stage outputs as Parquet shards in the work dir, found again on resume
- final_stage.py: each language's last table, kept so an unchanged rerun reads it back
- funnel.py: how many rows each stage kept, and why the rest left
- preflight.py: checks before any model loads; dry_run.py, projection.py: `--dry-run`
"""
