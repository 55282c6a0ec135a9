"""Speed on the real corpora in ../shared/data, each figure against its reference, in one run.

    .venv/bin/python benchmarks/real_corpora.py > benchmarks/real_corpora.txt

1. FER2013 CSV (all 35,887 rows, rebuilt from the image zip) -> manifest parquet, against a
   naive pyarrow split-and-cast and against just reading the bytes.
2. FER2013 image zip (35,887 JPEGs) -> manifest parquet.
3. RAVDESS speech (1440 clips) -> the complete audio feature table with ``snakemake -j2``
   (ingest, sharded features, merge), against a seed-style reference: a sequential loop of
   ``librosa.load`` at 22,050 Hz with MFCC and mel features over the extracted WAV files
   (the unzip is not counted against the reference), with the resampler librosa.load used
   when the seeds were written (resampy kaiser_best, the default before librosa 0.10) and with
   today's default (soxr_hq). Then where the pipeline's time goes: Snakemake's own start-up,
   and per-clip cost on one core, on the 16 kHz files and on the official 48 kHz files of
   actors 01-02 (what the seeds read).

Nothing is asserted: the committed output is the record. Targets from issue 5: <= 3 s,
<= 10 s, >= 10x.
"""

import os
import platform
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "workflow"))

from emorec.corpora.fer2013 import ingest_fer2013  # noqa: E402
from emorec.corpora.fer2013_images import FOLDER_LABELS, decode_face, ingest_fer2013_images  # noqa: E402
from emorec.labels import FER2013_EMOTIONS  # noqa: E402


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def build_fer_csv(images_zip: Path, out: Path) -> int:
    """The original ``emotion,pixels,Usage`` CSV rebuilt from the image folders."""
    code = {original: str(c) for c, (original, _) in FER2013_EMOTIONS.items()}
    usage = {"Training": "Training", "PublicTest": "PublicTest", "PrivateTest": "PrivateTest"}
    lines = ["emotion,pixels,Usage"]
    with zipfile.ZipFile(images_zip) as archive:
        for name in sorted(n for n in archive.namelist() if n.endswith(".jpg")):
            emotion = name.split("/")[-2]
            assert emotion in FOLDER_LABELS
            pixels = decode_face(archive.read(name))
            lines.append(
                f"{code[emotion]},{' '.join(map(str, pixels.tolist()))},{usage[Path(name).name.split('_')[0]]}"
            )
    out.write_text("\n".join(lines) + "\n")
    return len(lines) - 1


def naive_csv(path: Path) -> None:
    """What the issue calls a naive pyarrow split-and-cast."""
    table = pacsv.read_csv(path)
    pixels = pc.split_pattern(table.column("pixels"), " ")
    pc.cast(pixels, pa.list_(pa.uint8()))


def seed_style_features(wavs: list[Path], res_type: str = "kaiser_best") -> None:
    """A sequential loop as the seed decks did: librosa.load at 22,050 Hz, MFCC + mel means.

    ``librosa.load`` resampled with resampy's ``kaiser_best`` by default until librosa 0.10
    (February 2023) and with soxr's ``soxr_hq`` since; both are measured.
    """
    import librosa

    for wav in wavs:
        y, sr = librosa.load(wav, sr=22050, res_type=res_type)
        np.mean(librosa.feature.mfcc(y=y, sr=sr, n_mfcc=40).T, axis=0)
        np.mean(librosa.feature.melspectrogram(y=y, sr=sr).T, axis=0)


def emorec_features(wavs: list[Path]) -> None:
    """The pipeline's per-clip work in one process: decode at 16 kHz, descriptors and log-mel."""
    from emorec.audio_io import decode_mono
    from emorec.features.audio import BATCH_CLIPS, AudioFeatureExtractor, AudioFeatureParams

    extract = AudioFeatureExtractor(AudioFeatureParams())
    for first in range(0, len(wavs), BATCH_CLIPS):
        extract.batch(
            [decode_mono(wav.read_bytes(), sample_rate=16000) for wav in wavs[first : first + BATCH_CLIPS]]
        )


def main() -> None:
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent: this benchmark needs the real corpora")
    print(
        f"# {platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M')}"
    )
    images = DATA / "fer2013" / "fer2013_images.zip"
    ravdess = DATA / "ravdess" / "Audio_Speech_Actors_01-24_16k.zip"
    ravdess_48k = DATA / "ravdess" / "Audio_Speech_Actors_01-02.zip"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rows = build_fer_csv(images, tmp / "fer2013.csv")
        size = (tmp / "fer2013.csv").stat().st_size
        out = {k: tmp / f"out.{k}" for k in ("manifest", "rejects", "summary")}
        read = timed(lambda: (tmp / "fer2013.csv").read_bytes())
        naive = timed(naive_csv, tmp / "fer2013.csv")
        ours = timed(
            ingest_fer2013,
            archive=tmp / "fer2013.csv",
            manifest_path=out["manifest"],
            rejects_path=out["rejects"],
            summary_path=out["summary"],
            max_reject_fraction=0.0,
        )
        print(f"\n## 1. FER2013 CSV, {rows} rows, {size / 1e6:.0f} MB -> manifest parquet (target <= 3 s)")
        print(f"read bytes only            {read:6.2f} s")
        print(f"naive pyarrow split+cast   {naive:6.2f} s")
        print(f"emorec ingest_fer2013      {ours:6.2f} s   ({naive / ours:.1f}x the naive cast)")

        ours = timed(
            ingest_fer2013_images,
            archive=images,
            manifest_path=out["manifest"],
            rejects_path=out["rejects"],
            summary_path=out["summary"],
            val_fraction=0.1,
            split_seed=13,
            max_reject_fraction=0.0,
            max_compression_ratio=100,
        )
        print("\n## 2. FER2013 image zip, 35,887 JPEGs -> manifest parquet (target <= 10 s)")
        print(f"emorec ingest_fer2013_images {ours:6.2f} s")

        wav_dir = tmp / "ravdess"
        with zipfile.ZipFile(ravdess) as archive:
            archive.extractall(wav_dir)
        wavs = sorted(wav_dir.rglob("*.wav"))
        config = tmp / "real.yaml"
        config.write_text(  # one shard per core: each job pays ~0.6 s of imports
            f"corpora:\n  ravdess: {{archive: {ravdess}, val_actors: [19, 20], test_actors: [21, 22, 23, 24]}}\n"
            "features:\n  audio: {shards: 2}\n"
        )
        workdir = tmp / "work"
        workdir.mkdir()
        command = [
            sys.executable,
            "-m",
            "snakemake",
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(workdir),
            "-j2",
            "data/features/audio.parquet",
            "--configfile",
            str(config),
        ]
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        pipeline = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(result.stderr[-3000:])
        seeds = timed(seed_style_features, wavs)
        soxr = timed(seed_style_features, wavs, "soxr_hq")
        startup = timed(
            subprocess.run, [*command, "-n"], capture_output=True, check=True
        )  # nothing to do now
        print(
            f"\n## 3. RAVDESS speech, {len(wavs)} clips -> audio feature table (target >= 10x the reference)"
        )
        print("seed-style loop: librosa.load at 22,050 Hz, MFCC + mel means, one clip after another")
        print(f"  resampled as the seeds' librosa did (kaiser_best)            {seeds:6.1f} s")
        print(f"  resampled with librosa 0.11's default (soxr_hq)              {soxr:6.1f} s")
        print(
            f"emorec snakemake -j2 (ingest, 261 descriptors + log-mel, merge) {pipeline:6.1f} s   = {seeds / pipeline:.1f}x / {soxr / pipeline:.1f}x faster"
        )
        print(f"  of which Snakemake start-up and DAG (a run with nothing to do) {startup:6.1f} s")

        with zipfile.ZipFile(ravdess_48k) as archive:
            archive.extractall(tmp / "ravdess_48k")
        samples = {
            "16 kHz release": wavs[:: len(wavs) // 120],
            "official 48 kHz (actors 01-02)": sorted((tmp / "ravdess_48k").rglob("*.wav")),
        }
        print("per clip on one core (best of 3): emorec decode + all features vs the loop with soxr_hq")
        for name, sample in samples.items():
            ours = min(timed(emorec_features, sample) for _ in range(3)) / len(sample)
            reference = min(timed(seed_style_features, sample, "soxr_hq") for _ in range(3)) / len(sample)
            print(
                f"  {name:32s} {len(sample)} clips: {ours * 1e3:5.1f} ms vs {reference * 1e3:5.1f} ms   ({reference / ours:.1f}x)"
            )


if __name__ == "__main__":
    main()
