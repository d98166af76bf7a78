"""The work directory: stage outputs as Parquet shards, written atomically, found again on resume.

Layout: `{work_dir}/{lang}/{stage}-{fingerprint}/shard-00000.parquet`. The fingerprint hashes
everything that decides a stage's output (its settings, the model, the prompt versions and the
upstream stage's fingerprint), so changing a setting starts that stage and every later one
afresh while earlier shards are reused. A shard exists only once complete: it is written to a
temporary name and renamed.

A work dir cannot lie: each shard's sha256 is recorded beside it (`shard-00000.parquet.sha256`)
before the shard is renamed into place, and checked whenever the shard is found or read. A
shard that fails the check (a flipped bit, a truncated copy) is moved aside to
`*.corrupt`, named in a warning, and counts as not done, so the next pass redoes it from its
inputs (model stages answer from the request cache; prepare rereads the corpus).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from datasets import Dataset, Features

from .hashing import fingerprint, stable_hash  # noqa: F401 (fingerprint: the work dir's folder keys)

logger = logging.getLogger(__name__)

DONE = "_DONE"
CHECKSUM_SUFFIX = ".sha256"
CORRUPT_SUFFIX = ".corrupt"
# what _write_atomic and StageDir.write name their temporary files
_TEMP = re.compile(r"\.tmp-(\d+)$")
REPORT = "report.json"  # a language stage's report, beside its shard (StoredOutput)


class CorruptShardError(ValueError):
    """A shard failed its checksum while being read; it was moved aside, and a rerun redoes it."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_path(shard: Path) -> Path:
    return shard.with_name(shard.name + CHECKSUM_SUFFIX)


def _problem(shard: Path, features: Features | None) -> str | None:
    """Why `shard` cannot be trusted, or None when its bytes are the ones written."""
    record = checksum_path(shard)
    if not record.is_file():
        # A work dir from a builder that recorded no checksums: trust a shard that still opens
        # as Parquet with the stage's columns and adopt its checksum; others are redone. (Older
        # builders wrote empty model-stage shards with the input's columns.)
        try:
            names = pq.read_schema(shard).names
        except (OSError, pa.ArrowException) as err:
            return f"not readable as Parquet ({err})"
        if features is not None and names != list(features):
            return f"its columns {names} are not the stage's {list(features)}"
        _write_atomic(record, file_sha256(shard))
        return None
    expected = record.read_text(encoding="ascii", errors="replace").strip()
    actual = file_sha256(shard)
    if actual != expected:
        return f"sha256 {actual[:12]}... differs from the {expected[:12]}... recorded when it was written"
    return None


def _quarantine(shard: Path, problem: str) -> Path:
    aside = shard.with_name(shard.name + CORRUPT_SUFFIX)
    os.replace(shard, aside)
    checksum_path(shard).unlink(missing_ok=True)
    logger.warning(
        "work dir shard %s is corrupt: %s. Moved it aside to %s; it is redone from its inputs",
        shard,
        problem,
        aside.name,
    )
    return aside


def verify_shard(shard: Path, features: Features | None = None) -> bool:
    """True when `shard` exists with the bytes it was written with; a corrupt one is moved aside."""
    if not shard.is_file():
        return False
    problem = _problem(shard, features)
    if problem is None:
        return True
    _quarantine(shard, problem)
    return False


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with writing(tmp, path):
        tmp.write_text(text, encoding="ascii")
        os.replace(tmp, path)


@contextlib.contextmanager
def writing(tmp: Path, target: Path):
    """A write through `tmp` to `target` that fails (a full disk) leaves no temporary file (a
    0-byte one would stay forever), and an OSError that names no file (pyarrow's, or a write to an
    open file) is raised again naming `target`, so the report says where the disk is full."""
    try:
        yield
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and err.filename is None and err.errno:
            raise OSError(err.errno, os.strerror(err.errno), str(target)) from err
        raise


def pid_alive(pid: int) -> bool:
    """A process with this pid exists on this host (the work dir's lock asks this too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def sweep_temps(folder: Path) -> list[Path]:
    """Remove the temporary files (`*.tmp-<pid>`) that processes of this host which are gone left
    in `folder`: a run killed in the middle of a write. Called by the driver on resume, before
    the stage is written again; a live process's temporary file is left alone."""
    swept = []
    for path in folder.glob("*.tmp-*") if folder.is_dir() else ():
        found = _TEMP.search(path.name)
        pid = int(found.group(1)) if found else None
        # Our own pid is an earlier process's that had it (a container's build often gets the
        # same one): this process writes nothing in a folder while it sweeps it.
        if pid is not None and (pid == os.getpid() or not pid_alive(pid)):
            path.unlink(missing_ok=True)
            swept.append(path)
    if swept:
        logger.info(
            "work dir %s: removed %d temporary file(s) left by an earlier run", folder, len(swept)
        )
    return swept


class StageDir:
    def __init__(
        self, root: Path, lang: str, stage: str, fp: str, features: Features | None = None
    ):
        """`features`: the stage's column types (builder/stages/plan.py), which a shard written
        before checksums were recorded must have to be trusted (None: not checked)."""
        self.path = Path(root) / lang / f"{stage}-{fp}"
        self.features = features

    def shard(self, index: int) -> Path:
        return self.path / f"shard-{index:05d}.parquet"

    def shards(self) -> list[Path]:
        return sorted(self.path.glob("shard-*.parquet")) if self.path.is_dir() else []

    def has(self, index: int) -> bool:
        """The shard is there and intact (a corrupt one is moved aside, so it is redone)."""
        return verify_shard(self.shard(index), self.features)

    @property
    def complete(self) -> bool:
        return (self.path / DONE).is_file()

    def intact(self) -> bool:
        """A complete stage still holds every shard it wrote, each with its recorded bytes."""
        shards = self.shards()
        # a list: check (and move aside) every one
        ok = all([verify_shard(shard, self.features) for shard in shards])
        expected = self._recorded_count()
        if ok and expected is not None and expected != len(shards):
            logger.warning(
                "work dir stage %s holds %d shards but wrote %d; it is redone",
                self.path,
                len(shards),
                expected,
            )
            return False
        return ok

    def _recorded_count(self) -> int | None:
        text = (self.path / DONE).read_text(encoding="utf-8").strip()
        try:
            # empty: an older builder's marker
            return int(json.loads(text)["shards"]) if text else None
        except (ValueError, KeyError, TypeError):
            return None

    def mark_complete(self) -> None:
        _write_atomic(self.path / DONE, json.dumps({"shards": len(self.shards())}))

    def sweep(self) -> None:
        """Remove what an earlier, killed run left half-written here (before the stage is written again)."""
        sweep_temps(self.path)

    def reset(self) -> None:
        """Remove a partial stage (used for prepare, whose dedup state spans all shards)."""
        self.sweep()
        for shard in self.shards():
            shard.unlink()
            checksum_path(shard).unlink(missing_ok=True)
        (self.path / DONE).unlink(missing_ok=True)

    def write(self, index: int, data: Dataset | pa.Table) -> Path:
        """Write shard `index` (a Dataset, or an Arrow table already typed by the stage's features)."""
        self.path.mkdir(parents=True, exist_ok=True)
        target = self.shard(index)
        tmp = target.with_suffix(f".tmp-{os.getpid()}")
        with writing(tmp, target):
            pq.write_table(data if isinstance(data, pa.Table) else data.data.table, tmp)
            # The checksum is in place before the shard: a shard that exists always has its record.
            _write_atomic(checksum_path(target), file_sha256(tmp))
            os.replace(tmp, target)  # atomic: a killed run leaves no half-written shard behind
        return target


def _read_file(path: Path, columns: list[str] | None = None) -> pa.Table:
    """One Parquet file, read as a file: `pq.read_table` would first set up a dataset for it,
    which costs more than reading a shard of a few dozen rows (0.7 ms against 0.3)."""
    with pq.ParquetFile(path) as file:
        return file.read(columns=columns)


def _dropped_column(path: Path, features: Features) -> pa.ChunkedArray:
    """A shard's `dropped` column alone, the shard verified like read_shard."""
    _verify_or_raise(Path(path), features)
    return _read_file(path, ["dropped"]).column("dropped")


def shard_alive_rows(path: Path, features: Features) -> int:
    """Rows of a shard no stage has dropped yet (what the model stages work on and their bars
    count), verified like read_shard, reading only its `dropped` column."""
    return _dropped_column(path, features).null_count


def read_dropped(paths: list[Path], features: Features) -> list:
    """The `dropped` column of a stage's shards in order, verified like read_shard, reading only that column."""
    return [reason for path in paths for reason in _dropped_column(path, features).to_pylist()]


def read_columns(paths: list[Path], features: Features, columns) -> dict[str, list]:
    """Some columns of a stage's shards in order, as lists, each shard verified like read_shard."""
    out = {name: [] for name in columns}
    for path in paths:
        _verify_or_raise(Path(path), features)
        table = _read_file(path, list(columns)).cast(
            pa.schema([features.arrow_schema.field(name) for name in columns])
        )
        for name in columns:
            out[name].extend(table.column(name).to_pylist())
    return out


def recorded_checksums(paths: list[Path]) -> list[str]:
    """The sha256 recorded beside each shard (checked whenever the shard was found or read)."""
    return [checksum_path(Path(p)).read_text(encoding="ascii").strip() for p in paths]


def empty_dataset(features: Features) -> Dataset:
    """No rows, but the stage's columns: the next stage reads every shard with its own schema."""
    return Dataset.from_dict({name: [] for name in features}, features=features)


def _verify_or_raise(path: Path, features: Features) -> None:
    if not verify_shard(path, features):
        raise CorruptShardError(
            f"work dir shard {path} is missing or corrupt (moved aside if it was there); "
            "run the same command again to redo it"
        )


def _read_verified(path: Path, features: Features) -> pa.Table:
    path = Path(path)
    _verify_or_raise(path, features)
    table = _read_file(path)
    # same columns in another order (a stage that rebuilt some)
    if table.schema.names != list(features):
        table = table.select(list(features))
    return table.cast(features.arrow_schema)


def _content_fingerprint(paths: list[Path], features: Features) -> str:
    """A Dataset fingerprint from the shards' recorded checksums (verified just before): without
    one, `Dataset()` hashes the whole table, a cost that grows with the data."""
    return stable_hash("shards", recorded_checksums(paths), str(features))[:16]


def read_shard(path: Path, features: Features) -> Dataset:
    table = _read_verified(path, features)
    return Dataset(table, fingerprint=_content_fingerprint([path], features))


def read_shard_table(path: Path, features: Features) -> pa.Table:
    """read_shard's table without the Dataset around it (for code that works in Arrow)."""
    return _read_verified(path, features)


def read_stage(paths: list[Path], features: Features) -> Dataset:
    if not paths:
        return empty_dataset(features)
    table = pa.concat_tables([_read_verified(p, features) for p in paths])
    return Dataset(table, fingerprint=_content_fingerprint(paths, features))


class StoredOutput:
    """One language's output of a stage, kept in the work dir as `{lang}/{stage}-{fp}/`: one
    shard and, when the stage reports, `report.json`. Every stage whose output is reused per
    language goes through this (relevance's scores, diversify's clusters, the language's last
    table), as the shard stages go through `StageDir`: a complete, intact folder is read back,
    anything else is made again."""

    def __init__(self, stage: StageDir, features: Features):
        self.stage = stage
        self.features = features
        stage.features = features

    def ready(self, accept=None) -> bool:
        """Written completely, with its shard's recorded bytes (a damaged one is moved aside),
        and its report accepted by `accept(report)` when given (relevance: the same pool)."""
        return self._saved_report(accept) is not False

    def _saved_report(self, accept=None) -> dict | None | bool:
        """The saved report (None: the stage wrote none) when ready, else False."""
        if not (self.stage.complete and self.stage.intact() and self.stage.shard(0).is_file()):
            return False
        report = self.report()
        return report if accept is None or accept(report) else False

    def report(self) -> dict | None:
        path = self.stage.path / REPORT
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def table(self) -> Dataset:
        """The saved table, read into memory (one language: callers read one at a time)."""
        return read_shard(self.stage.shard(0), self.features)

    def num_rows(self) -> int:
        return pq.ParquetFile(self.stage.shard(0)).metadata.num_rows

    def save(self, data: Dataset | dict, report: dict | None = None) -> None:
        self.stage.reset()
        if isinstance(data, dict):
            data = Dataset.from_dict(data, features=self.features)
        if data._indices is not None:  # the shard holds the rows as selected, not the table below
            data = data.flatten_indices(keep_in_memory=True)
        self.stage.write(0, data)
        if report is not None:
            text = json.dumps(report, sort_keys=True, ensure_ascii=False)
            (self.stage.path / REPORT).write_text(text, encoding="utf-8")
        self.stage.mark_complete()

    def get(self, make, accept=None) -> tuple[Dataset, dict | None, bool]:
        """(table, report, made now): read back when ready, else `make() -> (data, report)` is
        saved first. Both come back as read from the work dir, so a first run and a rerun see
        the same values (float32 columns, JSON's types)."""
        report = self._saved_report(accept)  # read once, whether it is reused or not
        made = report is False
        if made:
            self.save(*make())
            report = self.report()
        return self.table(), report, made
