"""Pushing an export folder (builder/publish/export.py) to the Hub: `push`.

    from builder.publish.push import push
    push("out/x-instruction", "org/x-instruction")

`push` makes one commit per config and a last one for the card (the Hub allows 128 commits per
hour per repository), and first compares every local file with the repository's (git blob id or
LFS sha256), so a rerun after a failure uploads only what is missing or changed. It uses
`HfApi.create_commit` rather than `Dataset.push_to_hub`, which would re-shard and re-name the
files and rewrite the card itself, and then the repository would no longer equal the export.

"""

from __future__ import annotations

import logging
from pathlib import Path

from tqdm.auto import tqdm

from .. import __version__
from ..errors import one_line
from ..redact import redact
from .card import CARD_MARKER, write_card
from .layout import BUILD_INFO_FILE, CARD_FILE, PLOTS_DIR, SHARD, Layout, read_front_matter

logger = logging.getLogger(__name__)

LOGIN_HELP = (
    "Log in with `hf auth login` (a token with write access to the namespace), or set the HF_TOKEN "
    "environment variable to such a token, then rerun the same command."
)


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

    ops = [
        CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(root / f))
        for f in files
        if not _same_content(root / f, remote.get(f))
    ]
    if owned_prefix:
        local = set(files)
        ops += [
            CommitOperationDelete(path_in_repo=p)
            for p in sorted(remote)
            if p.startswith(owned_prefix) and p not in local
        ]
    return ops


def _explain(err: Exception, what: str, repo_id: str, root: Path, token: str | None) -> PushError:
    response = getattr(err, "response", None)
    status = getattr(response, "status_code", None)
    detail = redact(getattr(err, "server_message", None) or one_line(err, first_only=True), [token])
    if status in (401, 403):
        return HubAuthError(
            f"The Hub refused the token while {what} of {repo_id} (HTTP {status}: {detail}). "
            + LOGIN_HELP
        )
    reason = f"HTTP {status}: {detail}" if status else f"{type(err).__name__}: {detail}"
    return PushError(
        f"Push to {repo_id} failed while {what} ({reason}). The local export in {root} is intact; "
        "rerun the same command to resume: files already on the Hub are not uploaded again."
    )


def _remote_files(api, repo_id: str, revision: str | None) -> dict:
    from huggingface_hub import RepoFile
    from huggingface_hub.errors import RevisionNotFoundError

    try:
        tree = api.list_repo_tree(repo_id, repo_type="dataset", recursive=True, revision=revision)
        return {f.path: f for f in tree if isinstance(f, RepoFile)}
    except RevisionNotFoundError:
        raise PushError(
            f"branch {revision!r} does not exist in {repo_id}; create it with "
            f"`hf repos branch create {repo_id} {revision} --repo-type dataset`"
        ) from None


def _remote_only_configs(remote: dict, layout: Layout) -> list[str]:
    folders = {p.split("/", 1)[0] for p in remote if "/" in p and SHARD.match(p.rsplit("/", 1)[1])}
    return sorted(folders - set(layout.configs) - {PLOTS_DIR})


def _check_card_lists_no_empty(root: Path, layout: Layout) -> None:
    """A card the builder did not write (no CARD_MARKER) is not re-rendered by push, so it must
    not list a config that holds no rows: the Hub would publish a config that cannot load."""
    listed = {
        c.get("config_name") for c in read_front_matter(root / CARD_FILE).get("configs") or []
    }
    stale = sorted(listed & set(layout.empty))
    if stale:
        raise PushError(
            f"{root / CARD_FILE} lists config(s) {', '.join(stale)} that hold no rows, and `datasets` "
            "cannot load an empty config. Re-render the card with `python dataset_card/render.py "
            f"{root}` (it leaves them out), then push again. Nothing was pushed."
        )


def changed_parts(summary: dict) -> list[str]:
    """The parts of a push summary that changed the repository."""
    return [
        name
        for name, state in summary.items()
        if state in (UPLOADED, DELETED_EMPTY, DELETED_PRUNED)
    ]


def _network_errors() -> tuple[type[Exception], ...]:
    import httpx2  # huggingface_hub 2.x's HTTP client: connection refused, timeouts, DNS
    from huggingface_hub.errors import HfHubHTTPError

    return HfHubHTTPError, httpx2.HTTPError, OSError


def _commit(api, repo_id, ops, message, revision, what, root, token) -> str:
    if not ops:
        return UNCHANGED
    try:
        api.create_commit(
            repo_id,
            ops,
            commit_message=message,
            repo_type="dataset",
            revision=revision,
            commit_description=f"Pushed by x-instruction {__version__}.",
        )
    except _network_errors() as err:
        raise _explain(err, what, repo_id, root, token) from None
    return UPLOADED


def _card_files(root: Path) -> list[str]:
    plots = sorted(p.relative_to(root).as_posix() for p in (root / PLOTS_DIR).glob("*.png"))
    return [f for f in (CARD_FILE, BUILD_INFO_FILE) if (root / f).is_file()] + plots


def push(
    output_dir,
    repo_id: str,
    *,
    private: bool = False,
    token: str | None = None,
    revision: str | None = None,
    prune: bool = False,
) -> dict:
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
        raise PushError(
            f"{repo_id} has configs this export lacks ({', '.join(unlisted)}); pushing would unlist "
            "them from the card. Export every language together (cached work is reused), or pass "
            "--prune / prune=True to delete them from the repository. Nothing was pushed."
        )
    # load examples name the real repo; an older export's empty configs leave the YAML here
    if marked:
        write_card(root, repo_id=repo_id, plots=False, layout=layout)
    summary = {}
    for name in tqdm(layout.languages + layout.audit, desc=f"Pushing to {repo_id}", unit="config"):
        ops = _operations(root, layout.files(name), remote, owned_prefix=f"{name}/")
        summary[name] = _commit(
            api,
            repo_id,
            ops,
            f"Upload config {name}",
            revision,
            f"pushing config {name!r}",
            root,
            token,
        )
        logger.info("config %s: %s", name, summary[name])
    for name in layout.empty:  # never uploaded: datasets cannot load a config with no rows
        summary[name] = DELETED_EMPTY if name in extra else SKIPPED_EMPTY
    summary.update({name: DELETED_PRUNED for name in unlisted})
    ops = _operations(root, _card_files(root), remote, owned_prefix=f"{PLOTS_DIR}/")
    ops += [CommitOperationDelete(path_in_repo=f"{name}/", is_folder=True) for name in extra]
    summary["card"] = _commit(
        api,
        repo_id,
        ops,
        "Update dataset card, build info and plots",
        revision,
        "pushing the dataset card",
        root,
        token,
    )
    return summary
