"""Re-render the dataset card (README.md and plots/) of an X-Instruction export folder.

    python dataset_card/render.py out/x-instruction --repo-id org/x-instruction

Use it after editing builder/data/card_template.md, or to refresh the card of an older export:
the card is computed from the folder alone (its Parquet shards and build_info.json), so the
data is never touched. `x-instruction push` re-renders the text itself with the repository id.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "output_dir",
        type=Path,
        help="an export folder (written by export_local / build --output-dir)",
    )
    parser.add_argument(
        "--repo-id", default=None, help="the Hub repository named in the load examples"
    )
    parser.add_argument(
        "--no-plots", action="store_true", help="keep the existing plots/ and render the text only"
    )
    args = parser.parse_args(argv)

    from builder.publish.card import write_card

    start = time.perf_counter()
    try:
        path = write_card(args.output_dir, repo_id=args.repo_id, plots=not args.no_plots)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
