"""Cross-machine drift, measured on one machine by emulating other CPUs, and what
``determinism: portable`` costs against ``fast``, in one run.

    .venv/bin/python benchmarks/determinism.py > benchmarks/determinism.txt
    .venv/bin/python benchmarks/determinism.py --cpu-models > benchmarks/determinism_cpu_models.txt

1. The tiny demo DAG (tests/config/tiny.yaml) runs in a fresh folder under each setting:
   ``portable`` and ``fast``, each with the defaults and with an emulated older CPU (oneDNN
   limited to AVX2, NumPy's AVX-512 groups disabled, OpenBLAS forced to Haswell kernels),
   and single knobs one at a time in ``fast`` mode. For every stage the script compares what
   it wrote against the first run (``portable``, defaults): audio features (the numbers, not
   the file), each model's predicted probabilities, fusion, and ``metrics.json`` bytes.
2. Cost: wall time of each DAG run, and one training epoch of the real-data face CNN
   (``config/real.yaml``, 4,096 random faces) in each mode.
3. ``--cpu-models``: other x86-64 CPUs, run rather than emulated by variables. One training
   step of the real-data face CNN (one batch of 64 random faces, in each mode) natively and under QEMU's
   user-mode emulation of other CPU models (``qemu-x86_64 -cpu``, Debian's ``qemu-user``):
   each reports its own vendor, family and cache sizes to the CPUID instruction, which the
   libraries read to pick kernels and size their blocks. QEMU runs AVX2 and FMA but not
   AVX-512, so AVX-512 hardware itself is not covered. Each row shows what CPUID said there.
   Controls run portable mode without pinning Eigen's cache sizes, and with Eigen's
   convolutions in place of oneDNN's (:data:`CONTROLS`).

Nothing is asserted: the committed output is the record; tests/test_workflow.py checks
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

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "config" / "tiny.yaml"
EMULATED = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    "OPENBLAS_CORETYPE": "Haswell",
}
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
    numeric = [
        c
        for c in audio.column_names
        if c not in ("corpus", "sample_id", "label", "label_id", "original_label", "split", "speaker")
    ]
    found = {
        "features": digest(
            np.concatenate(
                [
                    audio.column(c).combine_chunks().flatten().to_numpy(zero_copy_only=False)
                    if c == "logmel"
                    else audio.column(c).to_numpy()
                    for c in numeric
                ]
            )
        )
    }
    for path in sorted(workdir.glob("reports/*/*/predictions.parquet")) + [
        workdir / "reports/fusion/predictions.parquet"
    ]:
        table = pq.read_table(path)
        found[str(path.parent.relative_to(workdir / "reports"))] = digest(
            np.column_stack([table.column(c).to_numpy() for c in table.column_names if c.startswith("p_")])
        )
    found["metrics.json"] = hashlib.sha256((workdir / "reports/metrics.json").read_bytes()).hexdigest()[:12]
    return found


def run_dag(mode: str, extra: dict[str, str]) -> tuple[float, dict[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "snakemake",
                "--snakefile",
                str(REPO / "Snakefile"),
                "--directory",
                tmp,
                "-j2",
                "--configfile",
                str(TINY),
                "--config",
                f"determinism={mode}",
                "--quiet",
            ],
            check=True,
            env=env_with(extra),
            capture_output=True,
        )
        return time.perf_counter() - start, outputs(Path(tmp))


EPOCH = """
import hashlib, sys, time, numpy as np, yaml
sys.path.insert(0, {workflow!r})
from emorec.runner import set_pipeline_env
set_pipeline_env(2, determinism={mode!r})
from emorec.models import eigen_caches, keras_nets
{control}
keras_nets.configure_tensorflow(threads=2, seed=0)
hp = yaml.safe_load(open({real!r}))["train"]["visual"]["cnn"]
x = np.random.default_rng(0).integers(0, 256, ({faces}, 48, 48, 1)).astype(np.uint8)
y = np.random.default_rng(1).integers(0, 7, {faces})
model = keras_nets.build_net("cnn", train_x=x, n_classes=7, hp=hp, seed=0)
hp = {{**hp, "max_epochs": 1}}
start = time.perf_counter()
history = keras_nets.fit(model, train=(x, y), val=(x[:256], y[:256]), hp=hp)
seconds = time.perf_counter() - start
weights = np.concatenate([w.ravel() for w in model.get_weights()])
print(seconds, repr(history["loss"][0]), hashlib.sha256(weights.tobytes()).hexdigest()[:12])
"""


def face_epoch(mode: str, *, faces: int, prefix: list[str] | None = None) -> tuple[float, str, str]:
    """One epoch of the real-data face CNN on ``faces`` random faces, run as ``prefix`` + python
    (an emulator): seconds, the training loss and a digest of the trained weights. ``mode`` is
    a determinism mode or one of :data:`CONTROLS`."""
    code = EPOCH.format(
        workflow=str(REPO / "workflow"),
        mode="portable" if mode in CONTROLS else mode,
        control=CONTROLS.get(mode, ""),
        real=str(REPO / "config" / "real.yaml"),
        faces=faces,
    )
    out = subprocess.run(
        [*(prefix or []), sys.executable, "-c", code],
        check=True,
        env=env_with({}),
        capture_output=True,
        text=True,
    )
    seconds, loss, weights = out.stdout.strip().splitlines()[-1].split()
    return float(seconds), loss, weights


#: x86-64 machine code of ``void cpuid(uint32 leaf, uint32 subleaf, uint32 out[4])`` (System V ABI).
CPUID_CODE = bytes.fromhex("5389f889f14989d00fa241890041895804418948084189500c5bc3")

CPU_PROBE = """
import ctypes, mmap
page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write({code!r})
call = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint32, ctypes.c_void_p)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
def cpuid(leaf, sub=0):
    out = (ctypes.c_uint32 * 4)()
    call(leaf, sub, ctypes.addressof(out))
    return list(out)
_, b, c, d = cpuid(0)
vendor = b"".join(v.to_bytes(4, "little") for v in (b, d, c)).decode()
a = cpuid(1)[0]
family, model = ((a >> 8) & 15) + ((a >> 20) & 255), ((a >> 4) & 15) | ((a >> 12) & 240)
if vendor == "AuthenticAMD":  # AMD: L1d in 0x80000005, L2 and L3 (in 512 KiB) in 0x80000006
    l1, l2, l3 = cpuid(0x80000005)[2] >> 24, cpuid(0x80000006)[2] >> 16, (cpuid(0x80000006)[3] >> 18) * 512
else:  # Intel: the deterministic cache parameters of leaf 4
    sizes = {{}}
    for i in range(8):
        a, b, c, _ = cpuid(4, i)
        if a & 31 == 0:
            break
        if a & 31 != 2:  # data or unified, not instruction
            sizes.setdefault((a >> 5) & 7, (((b >> 22) & 1023) + 1) * (((b >> 12) & 1023) + 1) * ((b & 4095) + 1) * (c + 1) // 1024)
    l1, l2, l3 = sizes.get(1), sizes.get(2), sizes.get(3) or 0
print(f"{{vendor}} family {{family}} model {{model}}, L1d {{l1}} KiB, L2 {{l2}} KiB, L3 {{l3 // 1024}} MiB")
"""


def cpu_description(prefix: list[str] | None = None) -> str:
    """What the CPUID instruction reports (vendor, family, model, L1d, L2 and L3 sizes), natively
    or under ``prefix`` (an emulator): what the libraries see when they pick and size kernels."""
    code = CPU_PROBE.format(code=CPUID_CODE)
    return subprocess.run(
        [*(prefix or []), sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()


#: Controls of ``--cpu-models``: portable mode less one of its parts, as code run before TensorFlow loads.
CONTROLS = {
    # Eigen plans its products by the cache sizes the CPU reports
    "portable, CPU's caches": "eigen_caches.pin = lambda sizes=None: True",
    # what TensorFlow does by itself on CPUs without VNNI or AMX: Eigen's convolutions, not oneDNN's
    "portable, Eigen convolutions": "import os; os.environ['TF_ENABLE_ONEDNN_OPTS'] = '0'",
}
#: QEMU CPU models: an AMD and an Intel one (L1d 32 KiB; L2 512 KiB and 4 MiB; L3 16 MiB).
QEMU_MODELS = ["EPYC-Rome", "Haswell-v4"]


def cpu_models() -> None:
    """One face-CNN training step's loss and weights natively and under each QEMU model, in
    each mode, the emulated runs side by side; then what portable mode costs per epoch here."""
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        sys.exit("--cpu-models needs qemu-x86_64 (Debian: apt-get install qemu-user)")
    faces = 64  # one batch of the real recipe
    print(
        f"One training step of the real-data face CNN (config/real.yaml) on {faces} random faces, 2 threads,"
    )
    print("natively and under QEMU user-mode emulation of other CPU models (qemu-x86_64 -cpu MODEL)\n")
    print("| determinism | CPU | what CPUID reports | training loss | weights (sha256) | same as native |")
    print("|---|---|---|---|---|---|")
    runs = [
        (mode, model)
        for mode in ("portable", "portable, CPU's caches", "fast")
        for model in [None, *QEMU_MODELS]
    ]
    prefix = lambda model: None if model is None else [qemu, "-cpu", model]
    with ThreadPoolExecutor(2) as pool:
        steps = list(pool.map(lambda run: face_epoch(run[0], faces=faces, prefix=prefix(run[1])), runs))
        cpus = list(pool.map(lambda model: cpu_description(prefix(model)), [None, *QEMU_MODELS]))
    for (mode, model), (_, loss, weights), cpu in zip(runs, steps, cpus * 3):
        native = steps[runs.index((mode, None))][2]
        print(
            f"| {mode} | {model or 'native'} | {cpu} | {loss} | {weights} | {'yes' if weights == native else 'NO'} |",
            flush=True,
        )
    _, loss, weights = face_epoch("portable, Eigen convolutions", faces=faces)
    same = "the same as" if weights == steps[0][2] else "NOT the same as"
    print(
        f"\nNatively with Eigen's convolutions instead of oneDNN's, as TensorFlow chooses by itself on CPUs without VNNI or AMX"
        f" unless portable mode turns oneDNN's on: loss {loss}, weights {weights}, {same} portable mode's"
    )
    seconds: dict[str, list[float]] = {"portable": [], "fast": []}
    for _ in range(2):  # alternating, the faster of two each: this machine is shared and noisy
        for mode in seconds:
            seconds[mode].append(face_epoch(mode, faces=4096)[0])
    portable, fast = min(seconds["portable"]), min(seconds["fast"])
    print(
        f"\nOne epoch of the same network on 4,096 faces natively, the faster of two alternating runs: portable {portable:.1f} s, fast {fast:.1f} s: portable costs {portable / fast:.2f}x here"
    )


def main() -> None:
    import numpy

    features = numpy._core._multiarray_umath.__cpu_features__  # type: ignore[attr-defined]  # no public API for NumPy's CPU dispatch
    found_isa = [f for f in ("AVX2", "AVX512F", "AVX512_SPR") if features.get(f)]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; {' '.join(found_isa)}"
    )
    settings = [
        ("portable", {}),
        ("portable", EMULATED),
        ("fast", {}),
        ("fast", EMULATED),
        *(("fast", knob) for knob in KNOBS),
    ]
    results = []
    for mode, extra in settings:
        seconds, found = run_dag(mode, extra)
        results.append((mode, extra, seconds, found))
        print(
            f"ran {mode:8s} {' '.join(f'{k}={v}' for k, v in extra.items()) or '(defaults)'}: {seconds:.1f} s",
            flush=True,
        )
    stages = list(results[0][3])

    def table(title: str, base: dict[str, str], rows: list) -> None:
        print(f"\n{title} ('=' the same numbers, 'x' they differ)")
        print("| mode | environment | " + " | ".join(stages) + " | wall s |")
        print("|---|---|" + "---|" * len(stages) + "---:|")
        for mode, extra, seconds, found in rows:
            cells = ["=" if found.get(s) == base[s] else "x" for s in stages]
            print(
                f"| {mode} | {' '.join(f'{k}={v}' for k, v in extra.items()) or 'defaults'} | "
                + " | ".join(cells)
                + f" | {seconds:.1f} |"
            )

    table(
        "Tiny demo DAG against determinism=portable with this machine's defaults: another CPU, emulated, changes nothing in portable mode",
        results[0][3],
        results,
    )
    table(
        "Which stage each knob moves on its own, against determinism=fast with this machine's defaults",
        results[2][3],
        results[2:],
    )
    portable, fast = face_epoch("portable", faces=4096)[0], face_epoch("fast", faces=4096)[0]
    print(
        f"\nOne epoch of the real-data face CNN (config/real.yaml, 4,096 faces, 2 threads): portable {portable:.1f} s, fast {fast:.1f} s: portable costs {portable / fast:.2f}x"
    )
    dag_portable, dag_fast = results[0][2], results[2][2]
    print(
        f"Tiny demo DAG wall time: portable {dag_portable:.1f} s, fast {dag_fast:.1f} s ({dag_portable / dag_fast:.2f}x)"
    )


if __name__ == "__main__":
    cpu_models() if sys.argv[1:] == ["--cpu-models"] else main()
