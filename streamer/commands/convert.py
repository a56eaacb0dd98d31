"""``reenact convert``: the command-line side of ``streamer.convert``."""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def add_frame_path_argument(p: argparse.ArgumentParser) -> None:
    """``--frame-path`` (convert, serve, camera)."""
    from streamer.framepath.build import FRAME_PATHS

    p.add_argument(
        "--frame-path",
        choices=FRAME_PATHS,
        default="auto",
        help="who pastes the face back: opencv, or our CUDA kernels (kept on the GPU with TensorRT; on a CPU "
        "their CPU build with onnxruntime, slower, for checking); auto = kernels when the warp runs on TensorRT",
    )


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``reenact convert``."""
    p = sub.add_parser(
        "convert",
        help="driver video + source photo -> reenacted video (audio kept)",
        description="Reenact a source photo with a driver video, offline.",
    )
    p.add_argument("--source", type=Path, help="source photo (the face to animate)")
    p.add_argument("--driver", type=Path, help="driver video (its head motion and expression are used)")
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        help="output video, written atomically: .mp4/.mov/.mkv (H.264) or .webm (VP9 + Opus, for browsers)",
    )
    p.add_argument(
        "--example",
        action="store_true",
        help="use the bundled example (public-domain photo + a driver clip made from it)",
    )
    add_convert_options(p)
    p.add_argument(
        "--quiet", action="store_true", help="no progress bar (there is none either when stderr is not a terminal)"
    )
    p.set_defaults(func=_run_convert)


def add_convert_options(p: argparse.ArgumentParser) -> None:
    """Every per-conversion option of ``reenact convert`` (all but the inputs, --out, --example and --quiet);
    ``reenact batch`` takes the same ones as per-job defaults and JOBS.csv columns."""
    from streamer.backends.select import BACKENDS
    from streamer.detectors import DETECTOR_NAMES
    from streamer.tracking import DEFAULT_TRACKER, TRACKER_NAMES

    p.add_argument("--size", type=int, default=256, help="face crop size in pixels (default 256)")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--paste-back",
        dest="paste_back",
        action="store_true",
        default=True,
        help="paste the face back into the source photo (default)",
    )
    group.add_argument("--crop-only", dest="paste_back", action="store_false", help="write the face crop only")
    motion = p.add_mutually_exclusive_group()
    motion.add_argument(
        "--relative",
        dest="motion",
        action="store_const",
        const="relative",
        default="relative",
        help="transfer motion relative to the driver's first face frame, keep the source's face shape (default)",
    )
    motion.add_argument(
        "--absolute",
        dest="motion",
        action="store_const",
        const="absolute",
        help="use the driver's landmarks as they are (driver's face shape)",
    )
    add_retarget_arguments(p)
    add_generator_arguments(p)
    add_warp_argument(p)
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="auto",
        help="who runs the per-frame warp: auto (the fastest available: TensorRT > onnxruntime GPU > torch CUDA; "
        "OpenCV on a CPU), or one by name; GPU ones take --size 256 only (other sizes use opencv)",
    )
    add_frame_path_argument(p)
    p.add_argument(
        "--landmarks",
        choices=DETECTOR_NAMES,
        default="auto",
        help="landmark detector: auto = embedded MediaPipe face mesh; fan needs its weights on disk",
    )
    p.add_argument(
        "--face-index",
        type=int,
        default=None,
        help="which face of the source photo to use when it has several (0 = largest)",
    )
    p.add_argument("--max-side", type=int, default=1280, help="largest output side with --paste-back (default 1280)")
    p.add_argument("--threads", type=int, default=None, help="compute threads (default 1; 0 = all cores)")
    p.add_argument("--strip", type=Path, default=None, help="also save a picture of driver/output frame pairs")
    p.add_argument(
        "--tracker",
        choices=TRACKER_NAMES,
        default=DEFAULT_TRACKER,
        help="driver landmark tracking: detector (MediaPipe on every frame, default) or temporal "
        "(detector on key frames + optical flow: smoother, holds through occlusions, but lags on fast "
        "mouth motion for now)",
    )
    p.add_argument(
        "--track-debug",
        type=Path,
        default=None,
        metavar="VIDEO",
        help="also write the driver with its landmarks drawn (detector, flow, fused)",
    )
    p.add_argument(
        "--reference-frame",
        type=int,
        default=None,
        metavar="N",
        help="use driver frame N (0-based) as the neutral reference (default: see --reference)",
    )
    p.add_argument(
        "--reference",
        choices=("lookahead", "causal"),
        default="lookahead",
        help="how the neutral reference frame is chosen: lookahead (default) reads the driver's first minute "
        "first and takes its most frontal, neutral frame; causal takes the most neutral of the first frames, "
        "as a live stream must",
    )
    p.add_argument("--max-seconds", type=float, default=None, help="convert only the first SECONDS of the driver")
    add_edit_arguments(p)


def add_edit_arguments(p: argparse.ArgumentParser, driver: bool = True) -> None:
    """The editing controls (``streamer.edit_controls``): head offsets and expression overrides on top of the
    driver's motion (convert, serve, camera); ``driver=False`` leaves out what only makes sense with a driver
    (``reenact edit``)."""
    from streamer.edit_controls import MOTION_FROM, RANGES

    def bounds(name: str) -> str:
        lo, hi, unit = RANGES[name]
        return f"{lo:g}..{hi:g}{' ' + unit if unit else ''}"

    g = p.add_argument_group("editing controls" + (" (on top of the driver's motion)" if driver else ""))
    for name, what in (
        ("yaw", "turn (+: to image right)"),
        ("pitch", "nod (+: chin up)"),
        ("roll", "tilt (+: clockwise)"),
    ):
        g.add_argument(
            f"--{name}",
            type=float,
            default=0.0,
            metavar="DEG",
            help=f"head {what} added to the {'driver' if driver else 'photo'}'s pose, {bounds(name)}; turns past 20 "
            "degrees from the photo's pose are softly limited (never past 35) so the face does not tear",
        )
    if driver:
        g.add_argument(
            "--expression-scale",
            type=float,
            default=1.0,
            metavar="X",
            help=f"the driver's expression: 0 = the photo's own, 1 = the driver's (default), >1 exaggerates "
            f"({bounds('expression_scale')})",
        )
    g.add_argument(
        "--eyes-open",
        type=float,
        default=None,
        metavar="R",
        help=f"eyelid gap as a fraction of the photo's own: 0 closed, 1 as in the photo ({bounds('eyes_open')}; "
        + ("default: follow the driver)" if driver else "default: as in the photo)"),
    )
    g.add_argument(
        "--lips-open",
        type=float,
        default=None,
        metavar="R",
        help="inner-lip gap over the distance between the eyes: 0 closed, 0.3 talking, 0.6 wide open "
        f"({bounds('lips_open')}; " + ("default: follow the driver)" if driver else "default: as in the photo)"),
    )
    g.add_argument(
        "--smile",
        type=float,
        default=0.0,
        metavar="S",
        help=f"mouth corners out and up (1) or down (-1), added to the expression ({bounds('smile')})",
    )
    if driver:
        g.add_argument(
            "--motion-from",
            choices=MOTION_FROM,
            default="both",
            help="what to take from the driver: both (default), its head pose only (the photo's expression), "
            "or its expression only (the photo's pose)",
        )


def edit_controls(args: argparse.Namespace):
    """The checked ``EditControls`` of parsed :func:`add_edit_arguments` flags (``InputError``: one line, exit 2)."""
    from streamer.edit_controls import EditControls

    return EditControls(
        yaw=args.yaw,
        pitch=args.pitch,
        roll=args.roll,
        expression_scale=getattr(args, "expression_scale", 1.0),
        eyes_open=args.eyes_open,
        lips_open=args.lips_open,
        smile=args.smile,
        motion_from=getattr(args, "motion_from", "both"),
    )


def add_warp_argument(p: argparse.ArgumentParser) -> None:
    """``--warp`` (convert, batch, serve and camera; not ``reenact edit``, whose still photo keeps the planar warp)."""
    from streamer.reenactors.geometric import DEFAULT_WARP, WARPS

    p.add_argument(
        "--warp",
        choices=WARPS,
        default=DEFAULT_WARP,
        help="how the source photo is bent: mesh (the source's 3D face mesh + a head shell, turned and "
        "z-buffered: the near side hides the far one on large turns; default) or planar (2D warp of the "
        "landmarks; the shipped RFG was trained on the mesh warp)",
    )


def add_retarget_arguments(p: argparse.ArgumentParser) -> None:
    """``--retarget`` and ``--idsg-weights`` (convert, serve and camera)."""
    from streamer.reenactors.geometric import RETARGETERS

    p.add_argument(
        "--retarget",
        choices=RETARGETERS,
        default="analytic",
        help="where the source's landmarks go: analytic (motion transfer, default) or idsg (the learned "
        "shape generator, see streamer/models/weights/IDSG.md; --relative/--absolute do not apply)",
    )
    p.add_argument(
        "--idsg-weights",
        type=Path,
        default=None,
        metavar="FILE",
        help="IDSG weights (.safetensors) for --retarget idsg (default: the shipped "
        "streamer/models/weights/idsg.safetensors)",
    )


def add_generator_arguments(p: argparse.ArgumentParser) -> None:
    """``--generator``, ``--integrator`` and ``--weights`` (convert, serve and camera)."""
    from streamer.reenactors.generators import DEFAULT_GENERATOR, DEFAULT_INTEGRATOR, GENERATORS, INTEGRATORS

    p.add_argument(
        "--generator",
        choices=GENERATORS,
        default=DEFAULT_GENERATOR,
        help=f"what draws the face: geometric (landmark warp) or rfg (the trained generator refining it; "
        f"streamer/models/weights/RFG.md); default {DEFAULT_GENERATOR}",
    )
    p.add_argument(
        "--integrator",
        choices=INTEGRATORS,
        default=DEFAULT_INTEGRATOR,
        help="rfg only: global (each frame from the source) or global-local (also the previous output, "
        f"merged by the calibration net); default {DEFAULT_INTEGRATOR}",
    )
    p.add_argument(
        "--weights",
        type=Path,
        default=None,
        metavar="FILE",
        help="RFG weights (.safetensors, e.g. your own 'reenact train rfg' run) for --generator rfg "
        "(default: the shipped streamer/models/weights/rfg.safetensors)",
    )


def check_generator_arguments(args: argparse.Namespace) -> None:
    """``InputError`` (exit 2, one line) for ``--weights`` without ``--generator rfg`` or RFG weights that do
    not load; checked before any slow work."""
    from streamer.errors import InputError

    if args.weights is not None and args.generator != "rfg":
        raise InputError("--weights is for --generator rfg")
    if args.generator == "rfg":
        from streamer.reenactors.rfg import check_rfg_weights

        check_rfg_weights(args.weights)  # the header only: loading the networks needs torch (onnx_cache)


def check_retarget_arguments(args: argparse.Namespace) -> None:
    """``InputError`` (exit 2, one line) for ``--idsg-weights`` without ``--retarget idsg`` or weights
    that do not load; checked before any slow work (and before ``configure_threads``, as it imports torch)."""
    from streamer.errors import InputError
    from streamer.reenactors.geometric import create_retargeter

    if args.idsg_weights is not None and args.retarget != "idsg":
        raise InputError("--idsg-weights is for --retarget idsg")
    if args.retarget == "idsg":
        create_retargeter("idsg", idsg_weights=args.idsg_weights)


def check_convert_options(args: argparse.Namespace) -> None:
    """``InputError`` (one line, exit 2) for per-conversion options that cannot work, before any slow work
    (the options of :func:`add_convert_options`)."""
    from streamer.backends.select import select_backend
    from streamer.errors import InputError

    if args.size < 64 or args.size > 1024:
        raise InputError(f"--size must be between 64 and 1024, got {args.size}")
    if args.max_side < 64:
        raise InputError(f"--max-side must be at least 64, got {args.max_side}")
    edit_controls(args)  # out-of-range or NaN edits fail here, before any (slow) model check
    check_retarget_arguments(args)
    check_generator_arguments(args)
    if args.retarget == "idsg" and args.motion == "absolute":
        log.warning("--absolute has no effect with --retarget idsg (the IDSG places the face itself)")
    select_backend("pixel_warp", args.backend)  # an unavailable backend fails here, before any work


def convert_options(args: argparse.Namespace, source: Path, driver: Path, out: Path, progress: bool, threads: int):
    """The ``ConvertOptions`` of parsed :func:`add_convert_options` options for one conversion."""
    from streamer.convert import ConvertOptions

    return ConvertOptions(
        source=source,
        driver=driver,
        out=out,
        size=args.size,
        paste_back=args.paste_back,
        motion=args.motion,
        backend=args.backend,
        landmarks=args.landmarks,
        face_index=args.face_index,
        max_side=args.max_side,
        progress=progress,
        max_seconds=args.max_seconds,
        tracker=args.tracker,
        track_debug=args.track_debug,
        reference_frame=args.reference_frame,
        reference=args.reference,
        strip=args.strip,
        retarget=args.retarget,
        idsg_weights=args.idsg_weights,
        threads=threads,
        generator=args.generator,
        integrator=args.integrator,
        weights=args.weights,
        frame_path=args.frame_path,
        warp=args.warp,
        edits=edit_controls(args),
    )


def _run_convert(args: argparse.Namespace) -> int:
    from streamer.convert import convert
    from streamer.errors import InputError
    from streamer.runtime import configure_threads

    check_convert_options(args)  # before --example makes its clip
    threads = configure_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="reenact-example-") as tmp:
        source, driver = args.source, args.driver
        if args.example:
            from streamer.examples import example_source_path, make_example_driver

            source = source or example_source_path()
            driver = driver or make_example_driver(Path(tmp) / "example_driver.mp4")
        if source is None or driver is None:
            raise InputError("give --source PHOTO and --driver VIDEO (or --example)")
        progress = not args.quiet and getattr(args, "stderr_is_tty", True)
        opts = convert_options(args, source, driver, args.out, progress, threads)
        summary = convert(opts)
    print(
        f"wrote {summary.out}: {summary.frames} frames, face found in {summary.faces} "
        f"({summary.frames - summary.faces} without), {summary.fps:.1f} fps "
        f"({summary.seconds:.1f} s, generator {summary.generator}, warp backend {summary.backend}, "
        f"paste-back {summary.frame_path}, "
        f"tracker {summary.tracker}"
        + (f", detector on {summary.duty_cycle:.0%} of frames" if summary.duty_cycle is not None else "")
        + (f", reference {summary.reference}" if summary.reference else "")
        + (f", edits {opts.edits.describe()}" if not opts.edits.is_identity else "")
        + ")"
    )
    print(_audio_line(summary.audio, summary.av_offset))
    return 0


def _audio_line(audio: str | None, offset: float | None) -> str:
    """The summary's audio line: codec, copied or re-encoded, and the A/V offset against the driver."""
    if audio is None:
        return "audio: none (the driver has no audio track)"
    drift = f"A/V offset vs driver {offset * 1000:+.1f} ms" if offset is not None else "A/V offset not measurable"
    return f"audio: {audio}, {drift}"
