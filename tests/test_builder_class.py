"""The `datasets` builder class (builder/x_instruction.py): one language config prepared with
`download_and_prepare()` / `as_dataset()` gives exactly the rows `x-instruction build` exports
for the same options; `data_dir=` reads such an export without a build; an empty language and
bad options are one clear error.

datasets 5.x refuses `load_dataset("builder/x_instruction.py", ...)` ("Dataset scripts are no
longer supported"), so the class is used in-process, as its docstring shows.

The model is a real HTTP server on 127.0.0.1 (the OpenAI engine's path, `/tokenize` included)
whose replies follow test_pipeline's scripted writer and judge, so rows are kept and fast.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import datasets
import pytest
from _cli_build import udhr_corpus
from helpers.pipeline import writer_and_judge

from builder import __version__
from builder.cli import main
from builder.core.schema import PUBLISHED
from builder.x_instruction import EXPORT_DIR, WORK_DIR, XInstruction

FIELDS = ("id", "instruction", "output")


class WriterJudgeServer:
    """`/tokenize` (words) and `/v1/chat/completions` answering `writer_and_judge`, `n` samples
    per request; counts the completion requests it answered."""

    def __init__(self):
        self.completions = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/tokenize":
                    reply = {"count": len(body["prompt"].split())}
                else:
                    server.completions += 1
                    texts = [
                        writer_and_judge(body["messages"], None, k) for k in range(body.get("n", 1))
                    ]
                    reply = {
                        "choices": [
                            {
                                "index": k,
                                "message": {"role": "assistant", "content": t},
                                "finish_reason": "stop",
                            }
                            for k, t in enumerate(texts)
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5},
                    }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server():
    httpd = WriterJudgeServer()
    yield httpd
    httpd.close()


@pytest.fixture(scope="module")
def options(tmp_path_factory, shared_data, server) -> dict:
    corpus = udhr_corpus(tmp_path_factory.mktemp("corpus"), shared_data)
    # min_relevance 0: writer_and_judge picks each instruction's topic by a hash of the text, not by
    # what it says, so the relevance gate would judge noise; the rows kept are the script's
    return {
        "corpus": corpus,
        "engine": "openai",
        "base_url": server.url,
        "model": "served",
        "max_docs": 8,
        "min_tokens": 5,
        "candidates": 2,
        "rounds": 1,
        "target_size": 4,
        "shard_size": 2,
        "min_relevance": 0,
        "heldout": 1,
    }


@pytest.fixture(scope="module")
def cli_export(tmp_path_factory, options):
    """The same build through `x-instruction build`, in its own work dir."""
    root = tmp_path_factory.mktemp("cli")
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in options.items()]
    assert (
        main(
            [
                "build",
                "--langs",
                "sw",
                *flags,
                "--work-dir",
                str(root / "work"),
                "--output-dir",
                str(root / "out"),
            ]
        )
        == 0
    )
    return root / "out"


def _rows(ds) -> list[tuple]:
    return [tuple(row[f] for f in FIELDS) for row in ds]


def _cli_rows(export, split: str) -> list[tuple]:
    return _rows(datasets.load_dataset(str(export), "sw", split=split))


def test_prepared_config_has_the_cli_rows(tmp_path, server, options, cli_export):
    before = server.completions
    builder = XInstruction(config_name="sw", options=options, cache_dir=str(tmp_path))
    builder.download_and_prepare()
    assert server.completions > before  # its own build, not the CLI's work read back
    ds = builder.as_dataset()

    assert {split: len(rows) for split, rows in ds.items()} == {"train": 3, "test": 1}
    for split in ds:
        rows = _rows(ds[split])
        assert rows == _cli_rows(cli_export, split) and rows
        assert ds[split].features == PUBLISHED
    train = ds["train"]
    assert set(train["lang"]) == {"sw"} and {m["builder_version"] for m in train["meta"]} == {
        __version__
    }
    assert builder.info.version == XInstruction.VERSION and str(XInstruction.VERSION) == __version__
    # the build's folders sit under the cache root the user gave, the export under this config's id
    export = tmp_path / EXPORT_DIR / builder.config_id
    assert (tmp_path / WORK_DIR / "sw").is_dir() and sorted(
        p.name for p in (export / "sw").iterdir()
    ) == ["test-00000-of-00001.parquet", "train-00000-of-00001.parquet"]

    shards = [str(export / "sw" / "train-00000-of-00001.parquet")]
    keys = [key for key, _ in builder._generate_examples(shards)]
    assert keys == train["id"][:] and len(set(keys)) == len(keys)  # row ids: unique, stable keys

    # prepared once: a second builder reads datasets' cache, asking the model nothing
    again = XInstruction(config_name="sw", options=options, cache_dir=str(tmp_path))
    calls = server.completions
    again.download_and_prepare()
    assert server.completions == calls and _rows(again.as_dataset("train")) == _rows(train)
    # streaming runs the build again: every shard and reply comes back from the work dir
    assert (
        _rows(again.as_streaming_dataset("train")) == _rows(train) and server.completions == calls
    )


def test_data_dir_reads_an_export_without_a_build(tmp_path, server, cli_export):
    calls = server.completions
    builder = XInstruction(config_name="sw", data_dir=str(cli_export), cache_dir=str(tmp_path))
    builder.download_and_prepare()
    assert server.completions == calls and not (tmp_path / WORK_DIR).exists()
    for split in ("train", "test"):
        assert _rows(builder.as_dataset(split)) == _cli_rows(cli_export, split)


def test_empty_language_says_why(tmp_path, shared_data, options):
    """English text in the Swahili file: prepare's language check drops every row."""
    (tmp_path / "sw.jsonl").write_bytes((shared_data / "udhr" / "en.jsonl").read_bytes())
    builder = XInstruction(
        config_name="sw",
        options={**options, "corpus": str(tmp_path / "{lang}.jsonl")},
        cache_dir=str(tmp_path / "cache"),
    )
    with pytest.raises(ValueError) as err:
        builder.download_and_prepare()
    assert str(err.value) == (
        "no row was kept, so there is no 'sw' dataset: "
        "sw: 0 of 8 rows kept (prepare: wrong_language 6, too_short 2)"
    )


def test_bad_options_are_one_clear_error(tmp_path, cli_export):
    with pytest.raises(
        ValueError, match=r"unknown build option\(s\) \['langs', 'rounsd'\]; see builder.config"
    ):
        XInstruction(
            config_name="sw", options={"rounsd": 2, "langs": "fi"}, cache_dir=str(tmp_path)
        )
    both = XInstruction(
        config_name="sw", data_dir=str(cli_export), options={"max_docs": 2}, cache_dir=str(tmp_path)
    )
    with pytest.raises(ValueError, match=r"^give either data_dir= .* or options= .*, not both$"):
        both.download_and_prepare()
