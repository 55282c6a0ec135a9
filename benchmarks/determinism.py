"""Cross-machine drift, measured on one machine by emulating other CPUs, and what
``determinism: portable`` costs against ``fast``, in one run.

    .venv/bin/python benchmarks/determinism.py > benchmarks/determinism.txt

1. The tiny demo DAG (tests/config/tiny.yaml) runs in a fresh folder under each setting:
   ``portable`` and ``fast``, each with the defaults and with an emulated older CPU (oneDNN
   limited to AVX2, NumPy's AVX-512 groups disabled, OpenBLAS forced to Haswell kernels),
   and single knobs one at a time in ``fast`` mode. For every stage the script compares what
   it wrote against the first run (``portable``, defaults): audio features (the numbers, not
   the file), each model's predicted probabilities, fusion, and ``metrics.json`` bytes.
2. Cost: wall time of each DAG run, and one training epoch of the real-data face CNN
   (``config/real.yaml``; 4,096 FER2013 faces when ../shared/data is there, else demo faces)
   in each mode.

Nothing is asserted: the committed output is the record; tests/test_determinism.py checks
the portable guarantee on every CI run.
"""

import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "config" / "tiny.yaml"
EMULATED = {"ONEDNN_MAX_CPU_ISA": "AVX2", "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR", "OPENBLAS_CORETYPE": "Haswell"}
KNOBS = [*({k: v} for k, v in EMULATED.items()), {"TF_ENABLE_ONEDNN_OPTS": "0"}]
CLEAN = [*EMULATED, "TF_ENABLE_ONEDNN_OPTS", "PYTHONHASHSEED"]


def env_with(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN and k != "MLFLOW_TRACKING_URI"}
    return {**env, "PYTHONWARNINGS": "ignore", **extra}


def digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:12]


def outputs(workdir: Path) -> dict[str, str]:
    """A digest of each stage's numbers."""
    audio = pq.read_table(workdir / "data/features/audio.parquet")
    numeric = [c for c in audio.column_names if c not in ("corpus", "sample_id", "label", "label_id", "original_label", "split", "speaker")]
    found = {"features": digest(np.concatenate([audio.column(c).combine_chunks().flatten().to_numpy(zero_copy_only=False) if c == "logmel" else audio.column(c).to_numpy() for c in numeric]))}
    for path in sorted(workdir.glob("reports/*/*/predictions.parquet")) + [workdir / "reports/fusion/predictions.parquet"]:
        table = pq.read_table(path)
        found[str(path.parent.relative_to(workdir / "reports"))] = digest(np.column_stack([table.column(c).to_numpy() for c in table.column_names if c.startswith("p_")]))
    found["metrics.json"] = hashlib.sha256((workdir / "reports/metrics.json").read_bytes()).hexdigest()[:12]
    return found


def run_dag(mode: str, extra: dict[str, str]) -> tuple[float, dict[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", tmp, "-j2",
             "--configfile", str(TINY), "--config", f"determinism={mode}", "--quiet"],
            check=True, env=env_with(extra), capture_output=True,
        )
        return time.perf_counter() - start, outputs(Path(tmp))


EPOCH = """
import sys, time, numpy as np, yaml
sys.path.insert(0, {workflow!r})
from emorec.runner import set_pipeline_env
set_pipeline_env(2, determinism={mode!r})
from emorec.models import keras_nets
keras_nets.configure_tensorflow(threads=2, seed=0)
hp = yaml.safe_load(open({real!r}))["train"]["visual"]["cnn"]
x = np.random.default_rng(0).integers(0, 256, (4096, 48, 48, 1)).astype(np.uint8)
y = np.random.default_rng(1).integers(0, 7, 4096)
model = keras_nets.build_net("cnn", train_x=x, n_classes=7, hp=hp, seed=0)
hp = {{**hp, "max_epochs": 1}}
start = time.perf_counter()
keras_nets.fit(model, train=(x, y), val=(x[:256], y[:256]), hp=hp)
print(time.perf_counter() - start)
"""


def epoch_seconds(mode: str) -> float:
    code = EPOCH.format(workflow=str(REPO / "workflow"), mode=mode, real=str(REPO / "config" / "real.yaml"))
    out = subprocess.run([sys.executable, "-c", code], check=True, env=env_with({}), capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import numpy

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {' '.join(numpy._core._multiarray_umath.__cpu_features__.get(f) and f or '' for f in ('AVX2', 'AVX512F', 'AVX512_SPR')).split()}")
    settings = [("portable", {}), ("portable", EMULATED), ("fast", {}), ("fast", EMULATED), *(("fast", knob) for knob in KNOBS)]
    results = []
    for mode, extra in settings:
        seconds, found = run_dag(mode, extra)
        results.append((mode, extra, seconds, found))
        print(f"ran {mode:8s} {' '.join(f'{k}={v}' for k, v in extra.items()) or '(defaults)'}: {seconds:.1f} s", flush=True)
    stages = list(results[0][3])

    def table(title: str, base: dict[str, str], rows: list) -> None:
        print(f"\n{title} ('=' the same numbers, 'x' they differ)")
        print("| mode | environment | " + " | ".join(stages) + " | wall s |")
        print("|---|---|" + "---|" * len(stages) + "---:|")
        for mode, extra, seconds, found in rows:
            cells = ["=" if found.get(s) == base[s] else "x" for s in stages]
            print(f"| {mode} | {' '.join(f'{k}={v}' for k, v in extra.items()) or 'defaults'} | " + " | ".join(cells) + f" | {seconds:.1f} |")

    table("Tiny demo DAG against determinism=portable with this machine's defaults: another CPU, emulated, changes nothing in portable mode", results[0][3], results)
    table("Which stage each knob moves on its own, against determinism=fast with this machine's defaults", results[2][3], results[2:])
    portable, fast = epoch_seconds("portable"), epoch_seconds("fast")
    print(f"\nOne epoch of the real-data face CNN (config/real.yaml, 4,096 faces, 2 threads): portable {portable:.1f} s, fast {fast:.1f} s: portable costs {portable / fast:.2f}x")
    dag_portable, dag_fast = results[0][2], results[2][2]
    print(f"Tiny demo DAG wall time: portable {dag_portable:.1f} s, fast {dag_fast:.1f} s ({dag_portable / dag_fast:.2f}x)")


if __name__ == "__main__":
    main()
