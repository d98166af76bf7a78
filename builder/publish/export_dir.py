"""The export folder as something the builder owns only in part.

`--output-dir` may be a folder the user already uses. The builder writes there only if the
folder is new, empty or holds an earlier export and nothing else (a manifest,
`.x-instruction-manifest.json`, lists every file an export wrote), or if the user passes
`--overwrite`; and it only ever deletes files a manifest lists, so a user's own files survive
every export. A file the user adds to an export folder makes the next export ask for
`--overwrite` too: a later export could otherwise replace it by a file of the same name.

An export is written whole into a staging folder beside the target and then moved into place
by renames, which need no free space: a full disk or a crash while writing leaves the previous
export as it was, and a half-written export is never visible.

    with staged_export("out/x-instruction", overwrite=False) as staging:
        ...write the export into `staging`...
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path

from .. import __version__
from ..core.workdir import writing
from .card import CARD_MARKER
from .layout import BUILD_INFO_FILE, CARD_FILE, PLOTS_DIR, SHARD

logger = logging.getLogger(__name__)

MANIFEST = ".x-instruction-manifest.json"
# Cards of exports written before manifests existed: the full card and the YAML-only one.
_OLD_CARD_SIGNS = (CARD_MARKER, "X-Instruction export; render the full card with")
_LISTED = 12  # files named in the refusal before "and N more"


def _files(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() or p.is_symlink()
    }


def _read_manifest(root: Path) -> set[str] | None:
    path = root / MANIFEST
    if not path.is_file():
        return None
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            f"{path} is damaged; it lists the files an earlier export wrote. Delete the export "
            "folder (or just that file, then pass --overwrite) and export again"
        ) from None
    return {str(f) for f in files}


def _old_export_files(root: Path) -> set[str]:
    """The files an export by a builder without manifests wrote: recognised by its card."""
    card = root / CARD_FILE
    if not card.is_file() or not any(
        sign in card.read_text(encoding="utf-8", errors="replace") for sign in _OLD_CARD_SIGNS
    ):
        return set()
    owned = {CARD_FILE, BUILD_INFO_FILE} & _files(root)
    for path in _files(root):
        parts = path.split("/")
        if len(parts) == 2 and (
            SHARD.match(parts[1]) or (parts[0] == PLOTS_DIR and parts[1].endswith(".png"))
        ):
            owned.add(path)
    return owned


def owned_files(root: Path) -> set[str]:
    """Files in `root` that an earlier export wrote (and so may be replaced or deleted)."""
    listed = _read_manifest(root)
    owned = listed if listed is not None else _old_export_files(root)
    return owned & _files(root)


def _bookkeeping(name: str) -> bool:
    """The manifest, and the temporary copy a killed export may leave of it: the builder's own."""
    return name == MANIFEST or name.startswith(f".{MANIFEST}.tmp-")


def _shown(names: list[str]) -> str:
    return ", ".join(names[:_LISTED]) + (
        f" and {len(names) - _LISTED} more" if len(names) > _LISTED else ""
    )


def check_export_target(output_dir, overwrite: bool = False, configs=()) -> None:
    """Refuse an output folder that is a file, or a folder holding files no export made (an
    earlier export with a file the user added to it included) unless `overwrite`; with or without
    it, refuse shard-named files no export made in the folders of `configs` (the config folders
    the export writes), which `datasets` would read as part of those configs. Called when the
    build starts, before any model loads, with every config the build may write, and again right
    before the export is moved into place, with those it wrote."""
    root = Path(output_dir)
    if root.exists() and not root.is_dir():
        raise ValueError(f"--output-dir {root} is a file, not a folder; pass a new or empty folder")
    if not root.is_dir():
        return
    foreign = sorted(f for f in _files(root) - owned_files(root) if not _bookkeeping(f))
    if foreign and not overwrite:
        raise ValueError(
            f"--output-dir {root} already holds files this builder did not write ({_shown(foreign)}). "
            "Choose a new or empty folder, or pass --overwrite to export into it anyway (files "
            "the export writes replace those of the same name; no other file is deleted)"
        )
    folders = set(configs)
    shadowing = [
        f
        for f in foreign
        if "/" in f and f.split("/", 1)[0] in folders and SHARD.match(f.rsplit("/", 1)[1])
    ]
    if shadowing:
        raise ValueError(
            f"--output-dir {root} holds shard files this builder did not write in the config "
            f"folders it exports ({_shown(shadowing)}); `datasets` would read them as part of those "
            "configs. Move them away, then export again"
        )


def _write_manifest(folder: Path, files: set[str]) -> None:
    tmp = folder / f".{MANIFEST}.tmp-{os.getpid()}"
    # a full disk: no 0-byte temporary file is left in the user's folder
    with writing(tmp, folder / MANIFEST):
        tmp.write_text(
            json.dumps({"builder_version": __version__, "files": sorted(files)}, indent=1) + "\n",
            encoding="utf-8",
        )
        os.replace(tmp, folder / MANIFEST)


def _remove_empty_dirs(root: Path, files: set[str]) -> None:
    for folder in sorted(
        {(root / f).parent for f in files}, key=lambda p: len(p.parts), reverse=True
    ):
        with contextlib.suppress(OSError):  # not empty: someone else's files are there
            if folder != root:
                folder.rmdir()


def _move_into_place(staging: Path, root: Path, overwrite: bool) -> None:
    new = _files(staging)
    if not root.exists():
        _write_manifest(staging, new)
        os.replace(staging, root)
        return
    # The folder may have changed during a long build.
    check_export_target(root, overwrite, configs={f.split("/", 1)[0] for f in new if "/" in f})
    owned = owned_files(root)
    # Listed first: a crash in the middle still leaves every file of both exports owned.
    _write_manifest(root, owned | new)
    for name in sorted(new):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / name, root / name)
    stale = owned - new
    for name in stale:  # only files an earlier export wrote
        (root / name).unlink(missing_ok=True)
    _remove_empty_dirs(root, stale)
    _write_manifest(root, new)
    shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def staged_export(output_dir, overwrite: bool = False):
    """Yield an empty staging folder beside `output_dir`; on success move its files into
    `output_dir` (see the module docstring); on failure remove it and leave `output_dir` alone."""
    root = Path(output_dir)
    check_export_target(root, overwrite)
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = root.parent / f".{root.name}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)  # left by a killed run of this same process id
    staging.mkdir()
    try:
        yield staging
        _move_into_place(staging, root, overwrite)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
