"""The ``remot`` console script: runs the Prefect flows (``build``, ``demo``, ``train``, ``eval``) and the export.

Every option of a typed config is generated from its model (``BuildConfig``, ``TrainConfig``, ``EvalConfig``), so
defaults and help exist once; this file adds only the paths each command works on. Option names are a public
interface other teams script against: keep them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from remot_data.errors import RemotError
from remot_train.cli_args import add_config_arguments, config_from_args

DEMO_CORPUS = Path("demo_data/corpus")
DEMO_DATASET = Path("demo_data/dataset")
DEMO_LICENSE = "apache-2.0"  # the demo corpus is synthetic: remot's own licence applies
DEMO_LEROBOT_MAPPING = "remot_demo"  # shipped in remot_data/robots/


def run_build(inputs: list, out_dir: Path, config, args: argparse.Namespace | None = None) -> dict:
    """Run the build flow (on the runner ``args`` name: threads by default, or Dask) and print its summary."""
    from flows.build_dataset import build_dataset, make_task_runner
    from remot_data.pipeline import format_summary, preflight

    preflight(inputs, out_dir, config)  # whole-input mistakes stop here, before Prefect starts
    start = time.perf_counter()
    runner = make_task_runner(
        getattr(args, "runner", "threads"),
        dask_address=getattr(args, "dask_address", None),
        workers=getattr(args, "workers", None),
    )
    manifest = build_dataset.with_options(task_runner=runner)(inputs, out_dir, config, progress=True)
    print("\n" + format_summary(manifest, out_dir))
    print(f"\nbuilt in {time.perf_counter() - start:.1f} s")
    return manifest


def cmd_build(args: argparse.Namespace) -> int:
    """``remot build``: build a dataset from one or more source directories."""
    from remot_data.pipeline import BuildConfig, SourceInput

    if len(args.source) != len(args.input):
        raise ValueError(
            f"give --source and --input in pairs; got {len(args.source)} sources, {len(args.input)} inputs"
        )
    mappings = list(args.lerobot_mapping or [])
    n_lerobot = args.source.count("lerobot")
    if len(mappings) != n_lerobot:
        raise ValueError(
            f"give one --lerobot-mapping per --source lerobot, in the same order; got {len(mappings)} for {n_lerobot}"
        )
    versions = list(args.nuscenes_version or [])
    n_nuscenes = args.source.count("nuscenes")
    if versions and len(versions) != n_nuscenes:
        raise ValueError(
            f"give one --version per --source nuscenes, in the same order, or none; got {len(versions)} for "
            f"{n_nuscenes}"
        )
    config = config_from_args(BuildConfig, args)
    inputs = [
        SourceInput(
            source=s,
            path=i,
            lerobot_mapping=mappings.pop(0) if s == "lerobot" else None,
            nuscenes_version=versions.pop(0) if s == "nuscenes" and versions else None,
        )
        for s, i in zip(args.source, args.input, strict=True)
    ]
    run_build(inputs, args.out, config, args)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``remot demo``: write the demo corpus if absent (ScanNet scenes + a LeRobot robot dataset), then build."""
    from remot_data.demo.corpus import write_demo_corpus
    from remot_data.pipeline import BuildConfig, SourceInput
    from schemas import load_layout

    config = config_from_args(BuildConfig, args, base={"license": DEMO_LICENSE})
    if not (args.corpus / "COMPLETE").exists():
        print(f"writing the demo corpus to {args.corpus} ...")
    paths = write_demo_corpus(args.corpus, seed=config.seed)
    inputs = [
        SourceInput(source=source, path=path, lerobot_mapping=DEMO_LEROBOT_MAPPING if source == "lerobot" else None)
        for source, path in paths.items()
    ]
    run_build(inputs, args.out, config)
    print(f"look at {load_layout().resolve(args.out) / load_layout().contact_sheet}")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """``remot inspect``: read a source without building and report what a build would get from it (no Prefect)."""
    from remot_data.inspection import format_report, inspect_source
    from remot_data.pipeline import SourceInput
    from remot_data.rules.registry import load_rule_preset

    item = SourceInput(
        source=args.source,
        path=args.input,
        lerobot_mapping=args.lerobot_mapping,
        nuscenes_version=args.nuscenes_version,
    )
    report = inspect_source(item, load_rule_preset(args.preset), limit=args.limit)
    print(format_report(report))
    return 0 if report.buildable else 2


def cmd_audit(args: argparse.Namespace) -> int:
    """``remot audit``: blind baselines, leakage and balance of a dataset, beside ReMoT-release JSONL files."""
    from remot_data.audit import audit_dataset, audit_items, format_audit, iter_release_items
    from remot_train.eval.loaders import load_release_jsonl

    audits = {str(args.dataset_dir): audit_dataset(args.dataset_dir)}
    for path in args.compare or []:
        audits[str(path)] = audit_items(iter_release_items(load_release_jsonl(path, task=None)))
    print(format_audit(audits))
    if args.json:
        args.json.write_text(json.dumps(audits, indent=2) + "\n", encoding="utf-8")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``remot export``: write the ReMoT JSONL export of a dataset directory."""
    from remot_data.export import export_remot_jsonl

    counts = export_remot_jsonl(args.dataset_dir, args.out)
    print(json.dumps({"export": str(args.out), "items": counts}))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """``remot train``: run the train flow."""
    from flows.train import train
    from remot_train.config import TrainConfig
    from remot_train.preflight import require_model_folder, require_split_files

    config = config_from_args(TrainConfig, args)
    require_model_folder(args.model)
    if not args.plan:
        require_split_files(args.data, "train")  # whole-input mistakes stop here, before Prefect starts
    # the flow's defaults where no flag was given
    launch = {key: getattr(args, key) for key in ("num_processes", "accelerate_config") if key in args}
    from remot_train.memory import DEFAULT_GPU_MEMORY_GIB, detected_gpu_memory_gib, plan_launch, require_memory_fits

    if args.plan:
        gpu_memory = args.gpu_memory_gib if args.gpu_memory_gib is not None else detected_gpu_memory_gib()
        print(plan_launch(config, args.model, gpu_memory or DEFAULT_GPU_MEMORY_GIB, **launch).render(gpu_memory))
        return 0
    if not args.skip_memory_check:  # before Prefect starts; the flow then skips its own run of the same gate
        require_memory_fits(config, args.model, gpu_memory_gib=args.gpu_memory_gib, **launch)
    from remot_train.run_dirs import claim_run_dir

    claim_run_dir(args.out, "train_run")  # never a folder remot did not make, before Prefect starts
    result = train(args.data, args.model, args.out, config=config, skip_memory_check=True, **launch)
    print(json.dumps(result, default=str))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """``remot eval``: run the evaluate flow and print the scores."""
    from flows.evaluate import evaluate
    from remot_train.eval.config import EvalConfig
    from remot_train.eval.evaluate import print_summary
    from remot_train.preflight import require_model_folder, require_reference

    config = config_from_args(EvalConfig, args)
    require_model_folder(args.model)  # whole-input mistakes stop here, before Prefect starts
    require_reference(args.data, config.splits)
    from remot_train.run_dirs import claim_run_dir

    claim_run_dir(args.out, "eval_report")  # never a folder remot did not make, before Prefect starts
    metrics = evaluate(args.model, args.data, args.out, config)
    print_summary(metrics, args.out)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """``remot score``: score a predictions file against its reference (no model, no flow)."""
    from remot_train.eval.evaluate import print_summary, run_command

    print_summary(run_command(args), args.out)
    return 0


def make_parser() -> argparse.ArgumentParser:
    """Return the ``remot`` argument parser."""
    from remot_data.pipeline import BuildConfig, ReaderName
    from remot_data.sources.registry import SOURCE_ALIASES
    from remot_train.config import make_train_parser
    from remot_train.eval.config import make_parser as make_eval_parser

    parser = argparse.ArgumentParser(prog="remot", description="remot: motion-contrast triplets, training, evaluation")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one line per error")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build a triplet dataset (Prefect flow build-dataset)")
    build.add_argument(
        "--source",
        required=True,
        action="append",
        choices=[*ReaderName.__args__, *SOURCE_ALIASES],
        help="input format; repeat --source/--input pairs to build from several inputs",
    )
    build.add_argument(
        "--input",
        required=True,
        action="append",
        type=Path,
        help="input directory (a folder of ScanNet scene exports, a LeRobot dataset root, a folder of MOTChallenge "
        "sequences, or a nuScenes dataroot)",
    )
    build.add_argument(
        "--lerobot-mapping",
        action="append",
        help="for each --source lerobot, in order: a shipped mapping name (so101, unitree_g1_inspire, ...) or a "
        "YAML file naming each arm's end-effector/joint features, gripper and camera",
    )
    build.add_argument(
        "--version",
        "--nuscenes-version",
        dest="nuscenes_version",
        action="append",
        help="for each --source nuscenes, in order: the tables' version folder under the dataroot (v1.0-mini); "
        "default: the only one there",
    )
    build.add_argument("--out", required=True, type=Path, help="dataset directory to publish")
    build.add_argument(
        "--runner",
        choices=["threads", "dask"],
        default="threads",
        help="where clip batches run: this machine's threads, or Dask workers (prefect-dask)",
    )
    build.add_argument(
        "--dask-address", default=None, help="--runner dask: an existing scheduler (tcp://host:8786); else a local one"
    )
    build.add_argument(
        "--workers",
        "--dask-workers",
        dest="workers",
        type=int,
        default=None,
        help="clip batches at once: threads, or with --runner dask and no address local worker processes "
        "(default: the CPUs)",
    )
    add_config_arguments(build, BuildConfig)
    build.set_defaults(func=cmd_build)
    demo = sub.add_parser("demo", help="write the demo corpus (if absent) and build a dataset from it")
    demo.add_argument("--corpus", default=DEMO_CORPUS, type=Path, help=f"demo corpus directory (default {DEMO_CORPUS})")
    demo.add_argument("--out", default=DEMO_DATASET, type=Path, help=f"dataset directory (default {DEMO_DATASET})")
    add_config_arguments(demo, BuildConfig)
    demo.set_defaults(func=cmd_demo)
    inspect = sub.add_parser("inspect", help="read a source without building: clips, ranges, candidates, problems")
    inspect.add_argument(
        "--source", required=True, choices=[*ReaderName.__args__, *SOURCE_ALIASES], help="input format"
    )
    inspect.add_argument("--input", required=True, type=Path, help="input directory")
    inspect.add_argument("--lerobot-mapping", default=None, help="LeRobot inputs: shipped mapping name or YAML file")
    inspect.add_argument(
        "--version", "--nuscenes-version", dest="nuscenes_version", default=None, help="nuScenes inputs: version folder"
    )
    inspect.add_argument("--preset", default=BuildConfig.model_fields["preset"].default, help="rule preset")
    inspect.add_argument("--limit", type=int, default=None, help="inspect only the first N clips")
    inspect.set_defaults(func=cmd_inspect)
    audit = sub.add_parser("audit", help="blind baselines, leakage across splits and balance of a dataset")
    audit.add_argument("dataset_dir", type=Path, help="what `remot build --out` wrote")
    audit.add_argument(
        "--compare", action="append", type=Path, help="a ReMoT-release JSONL to audit alongside (repeatable)"
    )
    audit.add_argument("--json", type=Path, default=None, help="also write the full audits as JSON here")
    audit.set_defaults(func=cmd_audit)
    export = sub.add_parser("export", help="write the ReMoT JSONL export of a dataset directory")
    export.add_argument("dataset_dir", type=Path, help="what `remot build --out` wrote")
    export.add_argument("--out", required=True, type=Path, help="export directory")
    export.set_defaults(func=cmd_export)
    make_eval_parser(sub)
    sub.choices["eval"].set_defaults(func=cmd_eval)
    sub.choices["score"].set_defaults(func=cmd_score)
    train = make_train_parser(sub)
    train.add_argument(
        "--num-processes", type=int, default=argparse.SUPPRESS, help="GPUs: more than 1 runs `accelerate launch`"
    )
    train.add_argument(
        "--accelerate-config",
        type=Path,
        default=argparse.SUPPRESS,
        help="accelerate config for multi-GPU runs (configs/accelerate/: multi_gpu, deepspeed_zero2, deepspeed_zero3)",
    )
    train.add_argument(
        "--plan",
        action="store_true",
        help="print the estimated memory per GPU of this config and launch (docs/memory.md), then exit",
    )
    train.add_argument(
        "--gpu-memory-gib",
        type=float,
        default=None,
        help="memory of each GPU; a run whose estimate exceeds it is refused (default: read from the GPU, if any)",
    )
    train.add_argument("--skip-memory-check", action="store_true", help="launch even if the estimate does not fit")
    train.set_defaults(func=cmd_train)
    return parser


# Prefect settings the command line needs on any machine: a busy 2-core machine takes longer than Prefect's default
# 20 s to start the ephemeral API (migrations on a fresh database), and offline telemetry only logs errors.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


class _NoTraceback(logging.Filter):
    """Drop tracebacks from Prefect's run loggers: the CLI prints the one useful line (``--debug`` keeps them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


def main(argv: list[str] | None = None) -> int:
    """Run the ``remot`` command line."""
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    args = make_parser().parse_args(argv)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # its INFO lines drown the summary
    if not args.debug:
        for name in ("prefect.flow_runs", "prefect.task_runs"):
            logging.getLogger(name).addFilter(_NoTraceback())
    try:
        return args.func(args)
    except (RemotError, FileNotFoundError, FileExistsError, ValueError) as err:
        if args.debug:
            raise
        print(f"remot {args.command}: error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        if args.debug or "Failed to reach API" not in str(err):
            raise
        url = os.environ.get("PREFECT_API_URL", "the configured Prefect API")
        print(
            f"remot {args.command}: error: {err} Start that server, or unset PREFECT_API_URL ({url}) to let remot "
            "run its own temporary one.",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
