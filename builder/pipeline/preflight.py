"""Checks at the start of a build that need no model: the folders it writes (and, with
--overwrite, foreign shard files in its config folders), the --seeds file, the Hub repo and
token it pushes with, and the optional packages its engine and executor need. Each failure is
one line naming the option and the fix, seconds after the command starts instead of after an
hour of generation (`x-instruction build` and `builder.pipeline.runner.build` call `check_build_start`;
the corpus is checked by `check_corpus` in the Pipeline, also before any model loads).
`x-instruction push` calls `check_push_start`.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

from ..config import BuildConfig
from ..publish.export_dir import check_export_target

AUDIT_CONFIG = "candidates"  # the export's config of every row (builder.pipeline.runner.build)
RAY_HINT = (
    "--executor ray needs Ray, which is not installed: pip install 'x-instruction[ray]' "
    "(or use --executor local)"
)


class SetupError(ValueError):
    """A folder, repository or token the build cannot use: fix the option and run again."""


def check_build_start(config: BuildConfig, *, export: bool = True) -> None:
    """Raise SetupError or ImportError for what would fail later; `export=False` for --dry-run,
    which writes only its work dir."""
    check_packages(config)
    check_work_dir(Path(config.work_dir))
    check_seeds(config)
    if export:
        check_output_folder(Path(config.output_dir))
        # Files the builder did not write; with --overwrite, shard files in any config folder the
        # export may write (each language's and the audit config's).
        check_export_target(
            config.output_dir, config.overwrite, configs=[*config.langs, AUDIT_CONFIG]
        )
        if config.push_to_hub:
            check_push(config.push_to_hub)


def check_seeds(config: BuildConfig) -> None:
    """A local --seeds file: there, of a seed file's type, and JSON with instruction/output up
    to its first pair (the generate stage reads the rest)."""
    from ..corpus.errors import CorpusError
    from ..corpus.seeds import check_seed_source
    from ..stages.configs import uses_seeds

    if uses_seeds(config):
        for lang in config.langs:
            try:
                check_seed_source(config.seeds, lang)
            except CorpusError as err:
                raise SetupError(f"--seeds: {err}") from None


def check_packages(config: BuildConfig) -> None:
    if config.engine == "vllm" and importlib.util.find_spec("vllm") is None:
        from ..engines.vllm_engine import INSTALL_HINT

        raise ImportError(INSTALL_HINT)
    if config.executor == "ray" and importlib.util.find_spec("ray") is None:
        raise ImportError(RAY_HINT)


def _probe(folder: Path, option: str, path: Path) -> None:
    """Create and remove a file in `folder`: permissions alone miss a read-only file system."""
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".x-instruction-probe-"):
            pass
    except OSError as err:
        where = "cannot write there" if folder == path else f"cannot create it in {folder}"
        raise SetupError(
            f"{option} {path}: {where} ({err.strerror}); choose a writable folder"
        ) from None


def check_work_dir(path: Path) -> None:
    _check_folder(path, "--work-dir", "(it holds the shards and the request cache)")


def check_output_folder(path: Path) -> None:
    _check_folder(
        path, "--output-dir", "(the export writes a folder of Parquet files and a README.md)"
    )


def _check_folder(path: Path, option: str, why: str) -> None:
    """A folder the build will create or write: checked, not created, so that a build refused
    for another reason leaves no empty folder behind."""
    if path.exists() and not path.is_dir():
        raise SetupError(f"{option} {path} is a file, not a folder; choose another {option} {why}")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise SetupError(
            f"{option} {path}: {parent} is a file, so the folder cannot be created there"
        )
    _probe(parent, option, path)


def check_push(repo_id: str, option: str = "--push-to-hub") -> None:
    check_repo_id(repo_id, option)
    check_token(repo_id, option)


def check_repo_id(repo_id: str, option: str) -> None:
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except ValueError as err:
        raise SetupError(
            f"{option} {repo_id!r} is not a Hub repository id (org/name): "
            f"{' '.join(str(err).split())}"
        ) from None


def check_token(repo_id: str, option: str) -> None:
    from huggingface_hub import get_token

    if get_token() is None:
        from ..publish.push import LOGIN_HELP

        raise SetupError(f"{option} {repo_id}: no Hugging Face token found. {LOGIN_HELP}")


def check_push_start(repo_id: str, output_dir) -> None:
    """`x-instruction push`: the repository id, the export folder and the token, before any
    request to the Hub (exit code 2, like `build --push-to-hub`)."""
    from ..publish.layout import Layout

    check_repo_id(repo_id, "--repo")
    try:
        Layout.scan(output_dir)
    except FileNotFoundError as err:  # missing, or no Parquet shards: the message says which
        raise SetupError(f"--output-dir {err}") from None
    check_token(repo_id, "--repo")
