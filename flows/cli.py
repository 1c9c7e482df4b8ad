"""The ``remot`` console script: runs the Prefect flows (``build``, ``demo``) and the export.

Option names are a public interface other teams script against: keep them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from remot_data.errors import RemotError

DEMO_CORPUS = Path("demo_data/corpus")
DEMO_DATASET = Path("demo_data/dataset")
DEMO_EXPORT = Path("demo_data/export")


def _build_config(args: argparse.Namespace):
    from remot_data.build import BuildConfig
    from remot_data.frames import FrameConfig
    from remot_data.sources.lerobot import load_lerobot_mapping

    mapping = getattr(args, "lerobot_mapping", None)
    return BuildConfig(
        preset=args.preset,
        **({"lerobot_mapping": load_lerobot_mapping(Path(mapping))} if mapping else {}),
        batch_size=args.batch_size,
        seed=args.seed,
        frames=FrameConfig(max_side_px=args.max_side, jpeg_quality=args.jpeg_quality, ffmpeg_path=args.ffmpeg),
        on_bad_clip=args.on_bad_clip,
        **({"license": args.license} if args.license else {}),
    )


def _print_summary(manifest: dict, out_dir: Path, seconds: float) -> None:
    counts, rejects = manifest["counts"], manifest["rejects"]
    print(f"\n{counts['triplets']} triplets written to {out_dir} in {seconds:.1f} s")
    for group in ("by_split", "by_family", "by_negative_method", "by_label"):
        print(f"  {group[3:]:<16} " + ", ".join(f"{k}: {v}" for k, v in counts[group].items()))
    print(f"  {'rejects':<16} {rejects['total']}: " + ", ".join(f"{k}: {v}" for k, v in rejects["by_reason"].items()))
    print(
        "  files            data/<split>/part-*.parquet, rejects.parquet, manifest.json, validation.json, "
        "README.md, contact_sheet.png"
    )


def run_build(inputs: list, out_dir: Path, config) -> dict:
    """Run the build flow and print its summary."""
    from flows.build_dataset import build_dataset

    start = time.perf_counter()
    manifest = build_dataset(inputs, str(out_dir), config, progress=True)
    _print_summary(manifest, out_dir, time.perf_counter() - start)
    return manifest


def cmd_build(args: argparse.Namespace) -> int:
    """``remot build``: build a dataset from one or more source directories."""
    from remot_data.build import SourceInput

    if len(args.source) != len(args.input):
        raise ValueError(
            f"give --source and --input in pairs; got {len(args.source)} sources, {len(args.input)} inputs"
        )
    inputs = [SourceInput(source=s, path=str(Path(i))) for s, i in zip(args.source, args.input, strict=True)]
    run_build(inputs, Path(args.out), _build_config(args))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``remot demo``: write the demo corpus if absent (ScanNet scenes + a LeRobot robot dataset), then build."""
    from remot_data.build import SourceInput
    from remot_data.demo.corpus import write_demo_corpus

    corpus = Path(args.corpus)
    if not (corpus / "COMPLETE").exists():
        print(f"writing the demo corpus to {corpus} ...")
    paths = write_demo_corpus(corpus, seed=args.seed)
    args.license = args.license or "apache-2.0"  # the demo corpus is synthetic: remot's own licence applies
    inputs = [SourceInput(source=source, path=str(path)) for source, path in paths.items()]
    run_build(inputs, Path(args.out), _build_config(args))
    print(f"  contact sheet    {Path(args.out) / 'contact_sheet.png'}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``remot export``: write the ReMoT JSONL export of a dataset directory."""
    from remot_data.export import export_remot_jsonl

    counts = export_remot_jsonl(Path(args.dataset_dir), Path(args.out))
    print(json.dumps({"export": str(args.out), "items": counts}))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """``remot train``: run the train flow."""
    from flows.train import train

    overrides = {k: v for k, v in vars(args).items() if k in _train_fields() and v is not None}
    result = train(
        args.data, args.model, args.out, config_path=args.config, overrides=overrides, num_processes=args.num_processes
    )
    print(json.dumps(result, default=str))
    return 0


def _train_fields() -> set[str]:
    from dataclasses import fields

    from remot_train.config import TrainConfig

    return {f.name for f in fields(TrainConfig)}


def cmd_eval(args: argparse.Namespace) -> int:
    """``remot eval``: run the evaluate flow and print the scores."""
    from flows.evaluate import evaluate
    from remot_train.eval.evaluate import print_summary

    controls = [k for k in args.controls.split(",") if k and k != "none"]
    metrics = evaluate(
        args.model,
        args.data,
        args.out,
        image_root=args.image_root,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        controls=controls,
        limit=args.limit,
    )
    print_summary(metrics, args.out)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """``remot score``: score a predictions file against its reference (no model, no flow)."""
    from remot_train.eval.evaluate import print_summary, run_command

    print_summary(run_command(args), args.out)
    return 0


def _add_build_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="v1", help="rule preset name or YAML path (default v1)")
    p.add_argument("--batch-size", type=int, default=4, help="clips per processing task")
    p.add_argument("--seed", type=int, default=0, help="seed of question shuffles")
    p.add_argument("--max-side", type=int, default=448, help="longer side of stored images, pixels")
    p.add_argument("--jpeg-quality", type=int, default=90, help="JPEG quality of stored images")
    p.add_argument(
        "--ffmpeg", default=None, help="ffmpeg binary to decode videos (default: the imageio-ffmpeg wheel's)"
    )
    p.add_argument(
        "--on-bad-clip",
        choices=["reject", "raise"],
        default="reject",
        help="reject: record a bad clip in rejects.parquet and go on; raise: stop",
    )
    p.add_argument("--license", default=None, help="licence id for the dataset card (default: the source's)")


def make_parser() -> argparse.ArgumentParser:
    """Return the ``remot`` argument parser."""
    parser = argparse.ArgumentParser(prog="remot", description="remot: motion-contrast triplets, training, evaluation")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build a triplet dataset (Prefect flow build-dataset)")
    build.add_argument(
        "--source",
        required=True,
        action="append",
        choices=["scannet", "lerobot"],
        help="input format; repeat --source/--input pairs to build from several inputs",
    )
    build.add_argument(
        "--input",
        required=True,
        action="append",
        help="input directory (a folder of ScanNet scene exports, or a LeRobot v3.0 dataset root)",
    )
    build.add_argument(
        "--lerobot-mapping",
        default=None,
        help="YAML of remot_data.sources.lerobot.LeRobotMapping (state names per arm, gripper sign)",
    )
    build.add_argument("--out", required=True, help="dataset directory to publish")
    _add_build_options(build)
    build.set_defaults(func=cmd_build)
    demo = sub.add_parser("demo", help="write the demo corpus (if absent) and build a dataset from it")
    demo.add_argument("--corpus", default=str(DEMO_CORPUS), help="demo corpus directory")
    demo.add_argument("--out", default=str(DEMO_DATASET), help="dataset directory to publish")
    _add_build_options(demo)
    demo.set_defaults(func=cmd_demo)
    export = sub.add_parser("export", help="write the ReMoT JSONL export of a dataset directory")
    export.add_argument("dataset_dir", help="what `remot build --out` wrote")
    export.add_argument("--out", required=True, help="export directory")
    export.set_defaults(func=cmd_export)
    from remot_train.eval.evaluate import make_parser as make_eval_parser

    make_eval_parser(sub)
    sub.choices["eval"].set_defaults(func=cmd_eval)
    sub.choices["score"].set_defaults(func=cmd_score)
    train = sub.add_parser("train", help="train on a triplet dataset (Prefect flow train; needs remot[train])")
    train.add_argument("--config", default="configs/train/grpo.yaml", help="train config YAML")
    train.add_argument("--data", required=True, help="dataset directory written by `remot build`")
    train.add_argument("--model", required=True, help="local model folder (no hub downloads)")
    train.add_argument("--out", required=True, help="run directory (resumes from its last checkpoint)")
    train.add_argument("--num-processes", type=int, default=1, help="GPUs: >1 runs through `accelerate launch`")
    train.add_argument("--schedule", choices=["grpo", "sft", "sft_then_grpo", "alternating"], default=None)
    train.add_argument("--max-steps", type=int, default=None)
    train.add_argument("--learning-rate", type=float, default=None)
    train.set_defaults(func=cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``remot`` command line."""
    args = make_parser().parse_args(argv)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # its INFO lines drown the summary
    try:
        return args.func(args)
    except (RemotError, FileNotFoundError, ValueError) as err:
        print(f"remot {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
