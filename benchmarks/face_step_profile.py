"""Where a training epoch of the real-data face CNN spends its time, per TensorFlow op, and
what each determinism mode costs per epoch, in one run.

    .venv/bin/python benchmarks/face_step_profile.py [--faces 2048] [--repeat 2] > benchmarks/face_step_profile.txt

Each mode runs in a fresh process (the kernels are chosen when the libraries load): the
network of ``config/real.yaml`` (``train.visual.cnn``) is trained one epoch on ``--faces``
random faces with the pipeline's own :func:`emorec.models.keras_nets.fit`, 2 threads, after
one warm-up epoch on 256 faces (tracing and compiling are not counted). The first process also
records the epoch with TensorFlow's profiler and sums the host time of every op by type and by
the part of the network it belongs to (convolution, batch normalisation, optimiser, ...).
Modes alternate and each figure is the fastest of ``--repeat``: these machines are shared.
Nothing is asserted; the committed output is the record.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from emorec.runner import cpu_model

REPO = Path(__file__).resolve().parents[1]

EPOCH = """
import glob, json, sys, time, numpy as np, yaml
sys.path.insert(0, {workflow!r})
from emorec.runner import set_pipeline_env
set_pipeline_env(2, determinism={determinism!r})
from emorec.models import keras_nets
{control}
keras_nets.configure_tensorflow(threads=2, seed=0)
import tensorflow as tf
hp = {{**yaml.safe_load(open({real!r}))["train"]["visual"]["cnn"], "max_epochs": 1}}
rng = np.random.default_rng(0)
x = rng.integers(0, 256, ({faces}, 48, 48, 1)).astype(np.uint8)
y = rng.integers(0, 7, {faces})
model = keras_nets.build_net("cnn", train_x=x, n_classes=7, hp=hp, seed=0)
keras_nets.fit(model, train=(x[:256], y[:256]), val=(x[:64], y[:64]), hp=hp)  # warm-up: tracing, first-touch memory
if {profile!r}:
    tf.profiler.experimental.start({profile!r})
start = time.perf_counter()
keras_nets.fit(model, train=(x, y), val=(x[:64], y[:64]), hp=hp)
seconds = time.perf_counter() - start
if {profile!r}:
    tf.profiler.experimental.stop()
print(json.dumps({{"seconds": seconds}}))
"""

#: Portable mode less one of its parts, as code run before TensorFlow loads.
EIGEN = "import os; os.environ['TF_ENABLE_ONEDNN_OPTS'] = '0'"
AUTODIFF = "from emorec.models import batch_norm; batch_norm.use_portable_training_kernel = lambda: None"
CONTROLS = {
    # portable mode before this benchmark (commit c33694e): Eigen's convolutions, batch norm differentiated by TensorFlow
    "portable before: Eigen convolutions, autodiff batch norm": f"{EIGEN}; {AUTODIFF}",
    "portable, Eigen convolutions": EIGEN,
    "portable, autodiff batch norm": AUTODIFF,
}


#: Parts of the network, by the Keras layer an op's name is scoped under ("" : anything else).
LAYERS = {
    "conv2d": "convolution",
    "batch_normalization": "batch normalisation",
    "dense": "dense layers",
    "max_pooling2d": "pooling",
    "global_average_pooling2d": "pooling",
    "activation": "ReLU",
    "random_": "augmentation",
    "cropping2d": "cropping",
    "rescaling": "rescaling",
    "dropout": "dropout",
}


def epoch(mode: str, *, faces: int, profile: str = "") -> float:
    """Seconds of one epoch on ``faces`` random faces in ``mode`` (a determinism mode or one of
    :data:`CONTROLS`), in a fresh process; with ``profile`` a TensorFlow trace goes there."""
    code = EPOCH.format(
        workflow=str(REPO / "workflow"),
        determinism="portable" if mode in CONTROLS else mode,
        control=CONTROLS.get(mode, ""),
        real=str(REPO / "config" / "real.yaml"),
        faces=faces,
        profile=profile,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        capture_output=True,
        text=True,
        env={**env, "PYTHONWARNINGS": "ignore"},
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def op_times(trace_dir: str) -> dict[str, float]:
    """Seconds per TensorFlow op (by its full name) in the trace: the executor's op events,
    each the op's wall time on the thread that ran it (its work split among the pool's threads
    included)."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    totals: dict[str, float] = {}
    for path in Path(trace_dir).rglob("*.xplane.pb"):
        space = xplane_pb2.XSpace()
        space.ParseFromString(path.read_bytes())
        for plane in space.planes:
            names = {k: m.name for k, m in plane.event_metadata.items()}
            for line in plane.lines:
                if not line.name.startswith("tf_Compute"):
                    continue
                for event in line.events:
                    name = names[event.metadata_id]
                    if ":" in name and "::" not in name:  # "scope/op:Type"; not the executor's own events
                        totals[name] = totals.get(name, 0.0) + event.duration_ps * 1e-12
    return totals


def part_of(name: str) -> str:
    """The part of the training step an op belongs to: the layer it is scoped under, forward or
    backward (``gradient_tape``), the optimiser, or the loss and metrics."""
    scope, _, kind = name.rpartition(":")
    direction = "backward" if "gradient_tape" in scope or "_grad/" in scope else "forward"
    for key, part in LAYERS.items():
        if f"/{key}" in scope:
            return f"{part}, {direction}"
    if (
        "optimizer" in scope.lower()
        or "adam" in scope.lower()
        or kind.startswith(("ResourceApply", "Assign"))
    ):
        return "optimiser"
    if "loss" in scope or "compile_metrics" in scope or "metrics" in scope:
        return "loss and metrics"
    return f"other ({kind})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--profile",
        nargs="*",
        default=["portable before: Eigen convolutions, autodiff batch norm", "portable"],
        help="modes to record one epoch of with TensorFlow's profiler",
    )
    parser.add_argument(
        "--modes",
        nargs="*",
        default=[
            "portable",
            "portable before: Eigen convolutions, autodiff batch norm",
            "portable, Eigen convolutions",
            "portable, autodiff batch norm",
            "fast",
        ],
    )
    args = parser.parse_args()
    cpu = cpu_model()
    print(
        f"machine: {cpu}, {os.cpu_count()} cores; one epoch of the real-data face CNN (config/real.yaml) on {args.faces} random faces, 2 threads\n"
    )
    seconds: dict[str, list[float]] = {mode: [] for mode in args.modes}
    for _ in range(args.repeat):
        for mode in args.modes:
            seconds[mode].append(epoch(mode, faces=args.faces))
            print(f"ran {mode}: {seconds[mode][-1]:.1f} s", file=sys.stderr, flush=True)
    best = {mode: min(v) for mode, v in seconds.items()}
    fast = best.get("fast")
    print(
        f"| mode | seconds per epoch (fastest of {args.repeat}) | per 28,709 faces (FER2013 Training) | vs fast |"
    )
    print("|---|---:|---:|---:|")
    for mode, s in best.items():
        print(
            f"| {mode} | {s:.1f} | {s * 28709 / args.faces:.0f} | " + (f"{s / fast:.2f}x |" if fast else "|")
        )
    print(
        "\nAll runs (s): "
        + "; ".join(f"{mode}: {', '.join(f'{v:.1f}' for v in runs)}" for mode, runs in seconds.items())
    )
    for mode in args.profile:
        with (
            tempfile.TemporaryDirectory() as trace
        ):  # apart from the timings: the profiler slows the epoch down
            profiled = epoch(mode, faces=args.faces, profile=trace)
            print_profile(mode, profiled, op_times(trace))


def print_profile(mode: str, profiled: float, ops: dict[str, float]) -> None:
    """The op time of one profiled epoch by part of the step and by op type."""
    total = sum(ops.values())
    parts: dict[str, float] = {}
    kinds: dict[str, float] = {}
    for op, s in ops.items():
        parts[part_of(op)] = parts.get(part_of(op), 0.0) + s
        kinds[op.rpartition(":")[2]] = kinds.get(op.rpartition(":")[2], 0.0) + s
    print(
        f"\nProfile of one epoch, {mode}, under TensorFlow's profiler ({profiled:.1f} s of wall time with the profiler on;"
        f" the ops' own time {total:.1f} s: ops that run side by side (inter-op parallelism 2) both count,"
        " and the profiler inflates small ops most)"
    )
    print("\n| part of the step | op seconds | share of op time |\n|---|---:|---:|")
    for part, s in sorted(parts.items(), key=lambda kv: -kv[1]):
        if s >= 0.002 * total:
            print(f"| {part} | {s:.2f} | {100 * s / total:.1f}% |")
    print("\n| op type | seconds | share of op time |\n|---|---:|---:|")
    for kind, s in sorted(kinds.items(), key=lambda kv: -kv[1])[:12]:
        print(f"| {kind} | {s:.2f} | {100 * s / total:.1f}% |")


if __name__ == "__main__":
    main()
