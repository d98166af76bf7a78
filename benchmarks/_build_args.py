"""The options shared by the benchmarks that run a whole build."""

from __future__ import annotations

import argparse


def build_parser(doc: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--langs", default="all", help="languages of the embedded corpus (default: all ten)"
    )
    parser.add_argument(
        "--max-docs", type=int, default=None, help="texts per language (default: the demo's)"
    )
    parser.add_argument("--model", default="smollm2-135m")
    return parser
