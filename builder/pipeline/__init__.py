"""The build, from settings to published tables, over the stages declared in builder/stages/plan.py.

- runner.py: `build()` and `Pipeline`, the build's table of contents
- prepare_loop.py: the corpus streamed through prepare into shards (the source stage)
- shard_stages.py: the other shard stages, in the executor or the driver, reused per shard
- shard_flow.py: the same stages as a flow on a remote engine, each shard on to its next stage
  as soon as it is written
- language_stages.py: relevance, the rater's controls, select and diversify, one language at a time
- loaded_models.py: the engines a build loads, and what they cost
- build_info.py: `meta` on every published row, and build_info.json
- results.py: `BuildResult`, `EmptyBuildError`, and the advice when every row was dropped
- preflight.py: checks before any model loads; lock.py: one build per work dir
- dry_run.py, projection.py: `--dry-run`
"""
