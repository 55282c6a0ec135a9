"""What `emorec predict` costs: start-up (where it goes) and one 3-s WAV once loaded.

    .venv/bin/python benchmarks/predict.py [CHECKOUT [CONFIGFILE]] > benchmarks/predict.txt

Runs in a checkout that has run the pipeline (default: this one) with its profile (e.g.
config/real.yaml for the real models; default: params.yaml alone, the demo's), in one
process, timing each start-up step as it happens the first time, then ``Predictor.predict``
on real RAVDESS clips (the 16 kHz speech zip in ../shared/data: 3-4 s each) and on the
demo's faces. Then how much the average-speaker normalisation a single file gets costs in
accuracy against the pipeline's per-speaker one, on the held-out actors. Nothing is asserted.
"""

import os
import platform
import statistics
import sys
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKOUT = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO
CONFIGFILES = tuple(sys.argv[2:3])
SPEECH = REPO.parent / "shared" / "data" / "ravdess" / "Audio_Speech_Actors_01-24_16k.zip"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def timed(label: str, steps: list[tuple[str, float]]):
    class Step:
        def __enter__(self) -> None:
            self.start = time.perf_counter()

        def __exit__(self, *exc: object) -> None:
            steps.append((label, time.perf_counter() - self.start))

    return Step()


def main() -> None:
    os.chdir(CHECKOUT)
    steps: list[tuple[str, float]] = []
    with timed("import emorec.serving (NumPy, pandas, pyarrow, scikit-learn, OpenCV, PyAV)", steps):
        from emorec.params import load_params
        from emorec.serving.project import project_predictor
    with timed("import TensorFlow / Keras", steps):
        import keras  # noqa: F401
    params = load_params("params.yaml", CONFIGFILES)
    with timed("load models and the average-speaker statistics", steps):
        predictor = project_predictor(params)
    with zipfile.ZipFile(SPEECH) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".wav") and "Actor_24" in n)[:40]
        clips = [z.read(n) for n in names]
    with timed("first prediction (openSMILE and TensorFlow warm-up)", steps):
        predictor.predict(clips[0])
    print(
        f"# emorec predict: start-up and per-file cost; {platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    )
    print(
        f"# checkout {CHECKOUT.name} {' '.join(CONFIGFILES)}; audio model {predictor.sources.get('audio')}, sex {predictor.sources.get('sex')}, visual {predictor.sources.get('visual')}"
    )
    print("\nstart-up step                                                            seconds")
    for label, seconds in steps:
        print(f"{label:<72} {seconds:7.2f}")
    print(f"{'total':<72} {sum(s for _, s in steps):7.2f}")

    per_clip = []
    for data in clips:
        start = time.perf_counter()
        predictor.predict(data)
        per_clip.append(time.perf_counter() - start)
    lengths = [len(d) / 32000 for d in clips]
    print(
        f"\nreal RAVDESS WAVs (actor 24, {len(clips)} clips, {min(lengths):.1f}-{max(lengths):.1f} s of audio, emotion + sex):"
    )
    print(
        f"  median {1000 * statistics.median(per_clip):.1f} ms, p90 {1000 * sorted(per_clip)[int(0.9 * len(per_clip))]:.1f} ms per file"
    )

    import numpy as np
    import pyarrow.parquet as pq

    faces = pq.read_table("data/features/faces.parquet").slice(0, 40).column("pixels").to_pylist()
    import cv2

    images = [cv2.imencode(".png", np.frombuffer(f, np.uint8).reshape(48, 48))[1].tobytes() for f in faces]
    per_image = []
    for data in images:
        start = time.perf_counter()
        predictor.predict(data)
        per_image.append(time.perf_counter() - start)
    print(f"48x48 face PNGs ({len(images)}): median {1000 * statistics.median(per_image):.1f} ms per file")

    from emorec.datasets import read_features, split_rows

    table = split_rows(read_features("data/features/audio.parquet"), "test")
    audio = predictor.models["audio"]
    truth = np.asarray(table.column("label").to_pylist())
    alone = predictor._audio_input(audio, table, same_speaker=False)
    together = predictor._audio_input(audio, table, same_speaker=True)
    acc = {
        name: float((np.asarray(audio.classes)[audio.predict_proba(x).argmax(1)] == truth).mean())
        for name, x in (("alone", alone), ("together", together))
    }
    print(f"\nheld-out test clips of this checkout ({len(truth)}), {audio.card['name']}:")
    print(f"  each file alone (average-speaker normalisation):      accuracy {acc['alone']:.3f}")
    print(
        f"  each speaker's files together (--same-speaker, as the pipeline): accuracy {acc['together']:.3f}"
    )


if __name__ == "__main__":
    main()
