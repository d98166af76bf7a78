"""The `build` command line of the tests that build through benchmarks/stub_server.py."""

from __future__ import annotations

from pathlib import Path


def stub_build_args(
    root: Path, langs: str, url: str, *extra: str, engine: str | None = "openai"
) -> list[str]:
    """`build` over root/corpus through the openai engine at `url`, into root/work and root/out;
    `extra` last, so a flag given again there wins. `engine=None` leaves `--engine` out, for a
    test that `--base-url` alone implies it.

    --min-relevance 0: the stub's questions are canned (topics picked by a hash of the prompt),
    unrelated to their text by construction, so the relevance gate would only judge noise; the
    default gate runs in test_build_e2e (the embedded model) and on true pairs in
    test_any_language's Yoruba builds."""
    return [
        "build",
        "--corpus",
        str(root / "corpus"),
        "--langs",
        langs,
        *(["--engine", engine] if engine else []),
        "--base-url",
        url,
        "--model",
        "smollm2-135m",
        "--min-relevance",
        "0",
        "--work-dir",
        str(root / "work"),
        "--output-dir",
        str(root / "out"),
        *extra,
    ]
