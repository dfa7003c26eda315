"""CLI for detection: ``vidprov scan`` and ``vidprov detector train|eval|list``, thin."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from vidprov.cli._util import OUT_FILE, PATH, PROBABILITY, dumps, echo, emit, progress_bar
from vidprov.errors import printable

if TYPE_CHECKING:
    from vidprov.detector.verdict import Verdict


@click.command()
@click.argument("files", nargs=-1, required=True, type=PATH)
@click.option(
    "--json", "as_json", is_flag=True, help="One JSON document (a list, unless one file was named)."
)
@click.option("--jsonl", is_flag=True, help="One compact JSON line per file, as each finishes.")
@click.option("--plot", type=OUT_FILE, help="Timeline PNG (one file only).")
@click.option("--model", "model_file", type=PATH, help="Detector file.")
@click.option("--trust-anchors", type=PATH, help="PEM trust anchors.")
@click.option("--no-classifier", is_flag=True, help="Manifest and watermark evidence only.")
@click.option(
    "--threshold",
    type=PROBABILITY,
    help="Classifier P(ai) from which footage reads ai, instead of the model's own "
    "(lower: more AI found, more camera footage flagged).",
)
def scan(
    files: tuple[Path, ...],
    as_json: bool,
    jsonl: bool,
    plot: Path | None,
    model_file: Path | None,
    trust_anchors: Path | None,
    no_classifier: bool,
    threshold: float | None,
) -> None:
    """Scan FILES (or folders of clips): verdict ai / mixed / real with evidence and timeline.

    A file that cannot be read gets one error line on stderr (and, with --json/--jsonl, a
    record {"file", "error", "message", "path"}); the others are still scanned; exit code 2
    if any failed. Interrupted (Ctrl-C, exit code 130), --json prints the files finished so far
    as a list.
    """
    from vidprov.detector import (
        BatchSummary,
        ScanFailure,
        iter_inputs,
        load,
        plot_timeline,
        scan_many,
    )
    from vidprov.detector.plot import check_plot_target
    from vidprov.errors import ConfigError

    if as_json and jsonl:
        raise ConfigError("--json and --jsonl are alternatives: give one")
    if model_file is not None and no_classifier:  # the model would be loaded, then not used
        raise click.UsageError("--model and --no-classifier are alternatives: give one")
    if threshold is not None and no_classifier:
        raise click.UsageError("--threshold and --no-classifier are alternatives: give one")
    items = list(iter_inputs(files))
    if plot is not None:
        if len(items) != 1:
            raise click.UsageError("--plot takes exactly one input file")
        check_plot_target(plot)
    det = load(model_file) if model_file else None
    results: list[Verdict | ScanFailure] = []
    try:
        with progress_bar(len(items), "scanning") as bar:
            clear = "\r\x1b[K" if bar else ""  # the bar's line, on a terminal
            for v in scan_many(
                items,
                detector=det,
                classifier=not no_classifier,
                trust_anchors=trust_anchors,
                threshold=threshold,
            ):
                if isinstance(v, ScanFailure):
                    click.echo(f"{clear}vidprov: error: {printable(v.message)}", err=True)
                if jsonl:
                    echo(dumps(v.to_dict(), indent=None))
                elif not as_json and not isinstance(v, ScanFailure):
                    if clear:
                        click.echo(clear, nl=False, err=True)
                    echo("\n".join(_text(v)))  # as each file finishes: an interrupt keeps them
                results.append(v)
                if bar:
                    bar(1)
    except KeyboardInterrupt:
        if as_json and results:  # the files finished so far, as a list (exit code 130)
            echo(dumps([r.to_dict() for r in results]))
        raise
    verdicts = [v for v in results if not isinstance(v, ScanFailure)]
    if plot is not None and verdicts:
        plot_timeline(verdicts[0], plot)
    if as_json and len(files) == 1 and items == [Path(files[0])]:  # one file: one record
        echo(dumps(results[0].to_dict()))
    elif as_json:  # several files, or a folder of them: a list
        echo(dumps([r.to_dict() for r in results]))
    elif not jsonl and len(results) > 1:  # a batch read as text ends with its tally
        echo(BatchSummary.of(results).text())
    if len(verdicts) < len(results):
        click.get_current_context().exit(2)


def _text(v: Verdict) -> list[str]:
    """The text lines of one verdict."""
    # the threshold keeps real false alarms low, so a P(ai) under it can still be high
    thr = ""
    if v.decided_by == "classifier":
        thr = f", threshold {v.evidence['classifier']['threshold']:.2f}"
    head = f"{printable(v.file)}: {v.label.upper()}  P(ai)={v.score_text}"
    lines = [f"{head}  (decided by {v.decided_by}{thr})"]
    lines += [
        f"  {s.start:7.2f}s - {s.end:7.2f}s  {s.label:4s}  {s.score:.2f}  {s.source}"
        for s in v.segments
    ]
    return lines + [f"  conflict: {c}" for c in v.conflicts]


@click.group()
def detector() -> None:
    """Train, evaluate and list AI-video detector models."""


@detector.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def detector_list(as_json: bool) -> None:
    """Registered model names and the shipped default."""
    from vidprov.detector.models import default_card, list_models

    rows = [
        {"name": m.name, "kind": m.cls.kind, "description": m.description} for m in list_models()
    ]
    card = default_card()
    doc = {"models": rows, "default": {k: card.get(k) for k in ("model", "sha256", "threshold")}}
    if as_json:
        echo(dumps(doc))
        return
    for r in rows:
        echo(f"{r['name']:16s} {r['kind']:13s} {r['description']}")
    echo(f"default: {doc['default']['model']} (sha256 {str(doc['default']['sha256'])[:12]}…)")


@detector.command("train")
@click.option("--data", type=PATH, help="Dataset folder (or VIDPROV_DATA).")
@click.option("--model", "model", default="forensic-rf", show_default=True)
@click.option("--out", type=OUT_FILE, required=True, help="Model file.")
@click.option(
    "--windows", type=click.IntRange(min=1), default=3, show_default=True, help="Windows per clip."
)
@click.option(
    "--splice-clips",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Synthesised mixed clips for the splice model (0: no splice model).",
)
@click.option(
    "--splice-false-rate",
    type=click.FloatRange(0.0, 1.0),
    default=0.1,
    show_default=True,
    help="Share of camera-in-camera clips (out of fold) the splice threshold may flag: higher "
    "finds more inserts and flags more camera footage.",
)
@click.option(
    "--splice-gif/--no-splice-gif",
    default=True,
    show_default=True,
    help="Put camera pieces of the splice clips through a GIF palette, as the shared data's AI "
    "clips were (off: for AI clips that never were GIFs).",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Seeds every random choice; the H.264 encodes of the training windows are not "
    "bit-exact from run to run, so two trainings can differ slightly (docs/detector.md).",
)
@click.option("--json", "as_json", is_flag=True)
def detector_train(
    data: Path | None,
    model: str,
    out: Path,
    windows: int,
    splice_clips: int,
    splice_false_rate: float,
    splice_gif: bool,
    seed: int,
    as_json: bool,
) -> None:
    """Train MODEL on a clip dataset (index.csv + clips) and save it to OUT."""
    from vidprov.detector.data import read_index
    from vidprov.detector.train import TrainConfig, train

    n = len(read_index(data))
    cfg = TrainConfig(
        model=model,
        windows_per_clip=windows,
        splice_clips=splice_clips,
        splice_false_rate=splice_false_rate,
        splice_gif=splice_gif,
        seed=seed,
    )
    with progress_bar(n + max(0, splice_clips), "normalising + encoding") as bar:
        r = train(data, out, cfg, bar)
    oof = r.report["out_of_fold"]
    sp = r.report.get("splice")
    emit(
        r,
        as_json,
        f"saved {r.path} ({r.model}, sha256 {r.sha256[:12]}…, threshold {r.threshold:.2f}); "
        f"out-of-fold AUC {oof['auc']:.3f}, real false alarms {oof['real_false_alarm']:.1%}"
        + (f"; splice threshold {sp['threshold']:.2f}" if sp else "")
        + _skipped(r.report.get("skipped", ()), "; "),
    )


@detector.command("eval")
@click.option("--data", type=PATH, help="Dataset folder (or VIDPROV_DATA).")
@click.option("--model", "model_file", type=PATH, help="Model file.")
@click.option("--mixed", "n_mixed", type=click.IntRange(min=0), default=24, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def detector_eval(data: Path | None, model_file: Path | None, n_mixed: int, as_json: bool) -> None:
    """Evaluate a model (default: the shipped one): clip AUC/AP/EER/accuracy, per generator,
    segment AP@0.5/0.75 and mean tIoU on synthesised mixed clips, false splices on
    camera-in-camera controls. Each clip is scored on one normalised 2 s window (drawn size,
    crop, frame rate and re-encode), not whole as `scan` reads it."""
    from vidprov.detector.data import read_index
    from vidprov.detector.models import load, load_default
    from vidprov.detector.train import evaluate

    det = load(model_file) if model_file else load_default()
    n = len(read_index(data))
    with progress_bar(n + 2 * n_mixed, "evaluating") as bar:
        r = evaluate(data, det, n_mixed=n_mixed, progress=bar)
    c, m = r.clips, r.mixed
    skipped = _skipped(c.get("skipped", ()), ", ")
    lines = [
        f"model {r.model}  threshold {r.threshold:.2f}",
        f"clips ({c['n']} scored{skipped}): AUC {_f(c['auc'])}  AP {_f(c['ap'])}  "
        f"EER {_f(c['eer'])}  accuracy {_f(c['accuracy'])}  "
        f"real false alarms {_f(c['real_false_alarm'])}",
        f"calibration: Brier {_f(c['brier'])}  ECE {_f(c['ece'])}",
    ]
    lines += [
        f"  {g}: {v['note']}"
        if "note" in v
        else f"  {g} against every camera clip ({v['n']} clips): AUC {_f(v['auc'])}  "
        f"AP {_f(v['ap'])}  accuracy {_f(v['accuracy'])}"
        for g, v in r.per_generator.items()
    ]
    if m.get("n"):
        lines.append(
            f"mixed ({m['n']}): AP@0.5 {_f(m['ap50'])}  AP@0.75 {_f(m['ap75'])}  "
            f"mean tIoU {_f(m['mean_tiou'])}  labelled mixed {_f(m['labelled_mixed'])}"
        )
    elif m.get("note"):  # asked for, none made: said, not left out
        lines.append(f"mixed: {m['note']}")
    cc = r.camera_in_camera
    if cc.get("n"):
        lines.append(
            f"camera-in-camera controls ({cc['n']}): with an ai segment {_f(cc['with_ai_segment'])}"
        )
    elif cc.get("note"):
        lines.append(f"camera-in-camera controls: {cc['note']}")
    lines.append(f"note: {r.note}")
    emit(r, as_json, "\n".join(lines))


def _skipped(skipped: list[str] | tuple[str, ...], sep: str) -> str:
    """``{sep}N unreadable, skipped`` when clips were left out (each named in a warning)."""
    return f"{sep}{len(skipped)} unreadable, skipped" if skipped else ""


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"
