"""Publishing: write the Hub layout to a folder (`export_local`) and push that folder (`push`).

    from builder.hub import export_local, push
    export_local("out/x-instruction", {"sw": {"train": sw}, "bn": {"train": bn},
                                       "candidates": {"train": audit}}, build_info)
    push("out/x-instruction", "org/x-instruction")

The folder *is* the repository: `{config}/{split}-00000-of-00001.parquet` per config, a virtual
`all` config in the card's `configs:` YAML, `build_info.json`, `README.md` and `plots/`. So
`load_dataset(folder, "sw")` and `load_dataset("org/x-instruction", "sw")` read the same files.
A language that kept no row gets no config at all (`datasets` cannot load an empty split); its
rows stay in `candidates`, build_info.json lists it under `empty_configs`, and the card says why.

`push` makes one commit per config and a last one for the card (the Hub allows 128 commits per
hour per repository), and first compares every local file with the repository's (git blob id or
LFS sha256), so a rerun after a failure uploads only what is missing or changed. It uses
`HfApi.create_commit` rather than `Dataset.push_to_hub`, which would re-shard and re-name the
files and rewrite the card itself, and then the repository would no longer equal the export.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from pathlib import Path

from tqdm.auto import tqdm

from . import __version__
from .card import CARD_MARKER, write_card
from .card.layout import (
    BUILD_INFO_FILE,
    CARD_FILE,
    EMPTY_CONFIGS_KEY,
    PLOTS_DIR,
    SHARD,
    SPLIT_NAME,
    Layout,
    check_config_name,
    is_language,
    read_front_matter,
    shard_name,
)
from .export_dir import staged_export
from .redact import redact

logger = logging.getLogger(__name__)

MAX_SHARD_BYTES = 500 << 20  # the shard size Dataset.push_to_hub uses
ROWS_PER_ROW_GROUP = 1000  # fixed, so that the same rows always give the same Parquet bytes
LOGIN_HELP = ("Log in with `hf auth login` (a token with write access to the namespace), or set the HF_TOKEN "
              "environment variable to such a token, then rerun the same command.")


# What push did with each part (its summary's values).
UPLOADED = "uploaded"
UNCHANGED = "unchanged"
SKIPPED_EMPTY = "skipped: no rows, not published"
DELETED_EMPTY = "deleted from the repository: no rows left"
DELETED_PRUNED = "deleted from the repository (--prune)"


class PushError(RuntimeError):
    """The push stopped; the message says which config and how to resume."""


class HubAuthError(PushError):
    """No token, or the Hub refused it (HTTP 401/403)."""


# -- export ------------------------------------------------------------------------------------

def _as_splits(name: str, value) -> dict:
    from datasets import Dataset

    splits = {"train": value} if isinstance(value, Dataset) else dict(value)
    if not splits:
        raise ValueError(f"config {name!r} has no split; give it e.g. {{'train': dataset}}")
    for split, ds in splits.items():
        if not SPLIT_NAME.match(split):
            raise ValueError(f"config {name!r}: split name {split!r} must be letters, digits or '_'")
        if not isinstance(ds, Dataset):
            raise TypeError(f"config {name!r}, split {split!r}: expected a datasets.Dataset, got {type(ds).__name__}")
    return splits


def _check_lang_column(name: str, ds) -> None:
    if "lang" in ds.column_names and len(ds):
        found = set(ds.unique("lang"))
        if found != {name}:
            raise ValueError(f"config {name!r} holds rows of languages {sorted(found)}: a language config holds "
                             "only its own rows (put mixed-language tables in an audit config)")


def _align_languages(configs: dict[str, dict]) -> dict[str, dict]:
    """Give every language config the same features, so that the `all` config reads them as one table.

    A column that is null in every row of one language (a model revision nobody recorded) gets
    the type the other languages have, exactly as `concatenate_datasets` would align it.
    """
    from datasets import concatenate_datasets

    parts = [ds for name, splits in configs.items() if is_language(name) for ds in splits.values()]
    if len(parts) < 2:
        return configs
    try:
        target = concatenate_datasets([ds.select([]) for ds in parts]).features
    except ValueError as err:
        raise ValueError(f"the language configs have incompatible columns, so the `all` config cannot read them "
                         f"together: {err}") from None
    aligned = {}
    for name, splits in configs.items():
        if is_language(name):
            splits = {s: ds if ds.features == target else ds.select_columns(list(target)).cast(target)
                      for s, ds in splits.items()}
        aligned[name] = splits
    return aligned


def _write_split(root: Path, config: str, split: str, ds) -> set[str]:
    fraction = len(ds) / ds.data.num_rows if ds.data.num_rows else 1.0  # a selection of a bigger table
    num_shards = max(1, math.ceil(ds.data.nbytes * fraction / MAX_SHARD_BYTES))
    folder = root / config
    folder.mkdir(parents=True, exist_ok=True)
    names = set()
    with _quiet_datasets_bars():  # one bar per config (below) instead of one per shard
        for index in range(num_shards):
            name = shard_name(split, index, num_shards)
            # Written in the staging folder (export_dir.staged_export): never half a shard in the export.
            ds.shard(num_shards, index, contiguous=True).to_parquet(folder / name, batch_size=ROWS_PER_ROW_GROUP)
            names.add(name)
    return names


@contextlib.contextmanager
def _quiet_datasets_bars():
    from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()


def _without_empty(configs: dict[str, dict]) -> tuple[dict[str, dict], list[str]]:
    """Drop 0-row splits; return the configs that still hold rows and the names left with none.

    An empty config is left out rather than written as an empty Parquet file: `datasets` 5.x
    cannot load a split with no rows (its reader raises 'Instruction "train" corresponds to no
    data!' whatever the file's schema), so such a config would break `load_dataset` and the Hub
    viewer. Its rows stay in the audit config and the card names it with its funnel.
    """
    kept, empty = {}, []
    for name, splits in configs.items():
        splits = {split: ds for split, ds in splits.items() if len(ds)}
        if splits:
            kept[name] = splits
        else:
            empty.append(name)
    return kept, sorted(empty)


def export_local(output_dir, configs: dict, build_info: dict, *, card: bool = True, overwrite: bool = False) -> Path:
    """Write the Hub layout of `configs` ({config: {split: Dataset}}) into `output_dir`.

    Config names that are registered language codes become language configs (and part of
    `all`); any other name (e.g. `candidates`) is an audit config in its own folder. With
    `card=False` the README holds only the YAML metadata, so the folder still loads by config.
    A split with no rows is not written, and a config with no rows at all gets no folder and no
    entry in the card's YAML; build_info.json lists it under `empty_configs` (see _without_empty).
    The same inputs always give byte-identical Parquet files and plots.

    The export is written into a staging folder and moved into place (builder/export_dir.py):
    a folder holding files no export wrote is refused unless `overwrite`, files of an earlier
    export that this one lacks are removed, and no other file is ever deleted.
    """
    if not configs:
        raise ValueError("nothing to export: `configs` is empty")
    configs = {name: _as_splits(name, value) for name, value in configs.items()}
    for name, splits in configs.items():
        check_config_name(name)
        if is_language(name):
            for ds in splits.values():
                _check_lang_column(name, ds)
    configs, empty = _without_empty(configs)
    if not configs:
        raise ValueError(f"nothing to export: every config ({', '.join(empty)}) has no rows")
    configs = _align_languages(configs)
    if empty:
        logger.warning("not exported, no rows: %s", ", ".join(empty))
        build_info = {**build_info, EMPTY_CONFIGS_KEY: empty}
    with staged_export(output_dir, overwrite=overwrite) as staging:
        for name, splits in tqdm(configs.items(), desc="Writing Parquet", unit="config"):
            for split, ds in splits.items():
                _write_split(staging, name, split, ds)
        info = json.dumps(build_info, indent=2, sort_keys=True, ensure_ascii=False, default=str)
        (staging / BUILD_INFO_FILE).write_text(info + "\n", encoding="utf-8")
        layout = Layout.scan(staging, names=list(configs))
        # Plots whose data is unchanged are copied from the export being replaced, not redrawn.
        write_card(staging, repo_id=build_info.get("repo_id"), plots=card, body=card, layout=layout,
                   reuse_plots=output_dir)
    return Path(output_dir)


# -- push --------------------------------------------------------------------------------------

def _same_content(path: Path, remote) -> bool:
    from huggingface_hub.utils.sha import git_hash, sha_fileobj

    if remote is None or remote.size != path.stat().st_size:
        return False
    if remote.lfs is not None:
        with path.open("rb") as f:
            return sha_fileobj(f).hex() == remote.lfs.sha256
    return git_hash(path.read_bytes()) == remote.blob_id


def _operations(root: Path, files: list[str], remote: dict, owned_prefix: str | None) -> list:
    """Adds for the files that differ from the repo; deletes for repo files under `owned_prefix`
    that the export no longer has (e.g. `sw/train-00001-of-00002.parquet` after a re-shard)."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    ops = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(root / f))
           for f in files if not _same_content(root / f, remote.get(f))]
    if owned_prefix:
        local = set(files)
        ops += [CommitOperationDelete(path_in_repo=p) for p in sorted(remote)
                if p.startswith(owned_prefix) and p not in local]
    return ops


def _explain(err: Exception, what: str, repo_id: str, root: Path, token: str | None) -> PushError:
    response = getattr(err, "response", None)
    status = getattr(response, "status_code", None)
    detail = redact(getattr(err, "server_message", None) or str(err).splitlines()[0], [token])
    if status in (401, 403):
        return HubAuthError(f"The Hub refused the token while {what} of {repo_id} (HTTP {status}: {detail}). "
                            + LOGIN_HELP)
    reason = f"HTTP {status}: {detail}" if status else f"{type(err).__name__}: {detail}"
    return PushError(f"Push to {repo_id} failed while {what} ({reason}). The local export in {root} is intact; "
                     "rerun the same command to resume: files already on the Hub are not uploaded again.")


def _remote_files(api, repo_id: str, revision: str | None) -> dict:
    from huggingface_hub import RepoFile
    from huggingface_hub.errors import RevisionNotFoundError

    try:
        tree = api.list_repo_tree(repo_id, repo_type="dataset", recursive=True, revision=revision)
        return {f.path: f for f in tree if isinstance(f, RepoFile)}
    except RevisionNotFoundError:
        raise PushError(f"branch {revision!r} does not exist in {repo_id}; create it with "
                        f"`hf repos branch create {repo_id} {revision} --repo-type dataset`") from None


def _remote_only_configs(remote: dict, layout: Layout) -> list[str]:
    folders = {p.split("/", 1)[0] for p in remote if "/" in p and SHARD.match(p.rsplit("/", 1)[1])}
    return sorted(folders - set(layout.configs) - {PLOTS_DIR})


def _check_card_lists_no_empty(root: Path, layout: Layout) -> None:
    """A card the builder did not write (no CARD_MARKER) is not re-rendered by push, so it must
    not list a config that holds no rows: the Hub would publish a config that cannot load."""
    listed = {c.get("config_name") for c in read_front_matter(root / CARD_FILE).get("configs") or []}
    stale = sorted(listed & set(layout.empty))
    if stale:
        raise PushError(f"{root / CARD_FILE} lists config(s) {', '.join(stale)} that hold no rows, and `datasets` "
                        "cannot load an empty config. Re-render the card with `python dataset_card/render.py "
                        f"{root}` (it leaves them out), then push again. Nothing was pushed.")


def changed_parts(summary: dict) -> list[str]:
    """The parts of a push summary that changed the repository."""
    return [name for name, state in summary.items() if state in (UPLOADED, DELETED_EMPTY, DELETED_PRUNED)]


def _network_errors() -> tuple[type[Exception], ...]:
    import httpx2  # huggingface_hub 2.x's HTTP client: connection refused, timeouts, DNS
    from huggingface_hub.errors import HfHubHTTPError

    return HfHubHTTPError, httpx2.HTTPError, OSError


def _commit(api, repo_id, ops, message, revision, what, root, token) -> str:
    if not ops:
        return UNCHANGED
    try:
        api.create_commit(repo_id, ops, commit_message=message, repo_type="dataset", revision=revision,
                          commit_description=f"Pushed by x-instruction {__version__}.")
    except _network_errors() as err:
        raise _explain(err, what, repo_id, root, token) from None
    return UPLOADED


def _card_files(root: Path) -> list[str]:
    plots = sorted(p.relative_to(root).as_posix() for p in (root / PLOTS_DIR).glob("*.png"))
    return [f for f in (CARD_FILE, BUILD_INFO_FILE) if (root / f).is_file()] + plots


def push(output_dir, repo_id: str, *, private: bool = False, token: str | None = None,
         revision: str | None = None, prune: bool = False) -> dict:
    """Push an export folder to the Hub dataset `repo_id`: one commit per config, then the card.

    Returns {config: "uploaded" | "unchanged", ..., "card": ...}. The token comes from `token`,
    else HF_TOKEN or the `hf auth login` token file; it is never printed or written. Configs the
    repository has but the export lacks make the push stop before any commit, unless
    `prune=True` (then they are deleted in the card commit), so that a partial export cannot
    silently unlist languages published earlier.

    A config with no rows is never uploaded (`datasets` cannot load it): one the export records
    as empty, or one whose shards hold 0 rows (an export by an older builder), is reported as
    SKIPPED_EMPTY, and if an earlier push published it, it is deleted in the card commit
    (DELETED_EMPTY) without needing `prune`: the export says the language now has no rows.
    """
    from huggingface_hub import CommitOperationDelete, HfApi, get_token

    root = Path(output_dir)
    layout = Layout.scan(root)
    marked = (root / CARD_FILE).is_file() and CARD_MARKER in (root / CARD_FILE).read_text("utf-8")
    if not marked:
        _check_card_lists_no_empty(root, layout)
    token = token or get_token()
    if not token:
        raise HubAuthError(f"No Hugging Face token found for pushing to {repo_id}. " + LOGIN_HELP)
    api = HfApi(token=token, library_name="x-instruction", library_version=__version__)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        remote = _remote_files(api, repo_id, revision)
    except _network_errors() as err:
        raise _explain(err, "creating or listing the repository", repo_id, root, token) from None
    extra = _remote_only_configs(remote, layout)
    # A config the export records (or finds) as empty is not a partial export: its remote copy
    # is stale or unloadable, so it goes in the card commit without --prune.
    unlisted = [name for name in extra if name not in layout.empty]
    if unlisted and not prune:
        raise PushError(f"{repo_id} has configs this export lacks ({', '.join(unlisted)}); pushing would unlist "
                        "them from the card. Export every language together (cached work is reused), or pass "
                        "--prune / prune=True to delete them from the repository. Nothing was pushed.")
    if marked:  # load examples name the real repo; an older export's empty configs leave the YAML here
        write_card(root, repo_id=repo_id, plots=False, layout=layout)
    summary = {}
    for name in tqdm(layout.languages + layout.audit, desc=f"Pushing to {repo_id}", unit="config"):
        ops = _operations(root, layout.files(name), remote, owned_prefix=f"{name}/")
        summary[name] = _commit(api, repo_id, ops, f"Upload config {name}", revision,
                                f"pushing config {name!r}", root, token)
        logger.info("config %s: %s", name, summary[name])
    for name in layout.empty:  # never uploaded: datasets cannot load a config with no rows
        summary[name] = DELETED_EMPTY if name in extra else SKIPPED_EMPTY
    summary.update({name: DELETED_PRUNED for name in unlisted})
    ops = _operations(root, _card_files(root), remote, owned_prefix=f"{PLOTS_DIR}/")
    ops += [CommitOperationDelete(path_in_repo=f"{name}/", is_folder=True) for name in extra]
    summary["card"] = _commit(api, repo_id, ops, "Update dataset card, build info and plots", revision,
                              "pushing the dataset card", root, token)
    return summary
