# Raw archives, read in place -> manifest + rejects + summary per corpus.


rule ingest_ravdess:
    input:
        archive=archive("ravdess"),
        code=package_code("ingest_ravdess.py"),
    output:
        **ingest_outputs("ravdess"),
    params:
        corpus=config["corpora"]["ravdess"],
        ingest=config["ingest"],
    log:
        "logs/ingest/ravdess.log",
    threads: threads_of("ingest")
    resources:
        mem_mb=mem_of("ingest"),
        runtime=runtime_of("ingest"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/ingest_ravdess.py"


rule ingest_fer2013:
    input:
        archive=archive("fer2013"),
        code=package_code("ingest_fer2013.py"),
    output:
        **ingest_outputs("fer2013"),
    params:
        corpus=config["corpora"]["fer2013"],
        ingest=config["ingest"],
    log:
        "logs/ingest/fer2013.log",
    priority: 10  # the face chain is the real profile's longest path: it starts first
    threads: threads_of("ingest")
    resources:
        mem_mb=mem_of("ingest"),
        runtime=runtime_of("ingest"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/ingest_fer2013.py"


rule ingest_speech:
    input:
        archive=lambda wc: archive(wc.speech_corpus),
        code=package_code("ingest_speech.py"),
    output:
        manifest="data/interim/{speech_corpus}/manifest.parquet",
        rejects="data/interim/{speech_corpus}/rejects.parquet",
        summary="data/interim/{speech_corpus}/summary.json",
    wildcard_constraints:
        speech_corpus="|".join(NAMED_SPEECH_CORPORA),
    params:
        corpus=lambda wc: config["corpora"][wc.speech_corpus],
        ingest=config["ingest"],
    log:
        "logs/ingest/{speech_corpus}.log",
    threads: threads_of("ingest")
    resources:
        mem_mb=mem_of("ingest"),
        runtime=runtime_of("ingest"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/ingest_speech.py"


rule ingest_face_set:
    input:
        archive=lambda wc: archive(wc.face_set),
        code=package_code("ingest_face_set.py"),
    output:
        manifest="data/interim/{face_set}/manifest.parquet",
        rejects="data/interim/{face_set}/rejects.parquet",
        summary="data/interim/{face_set}/summary.json",
    wildcard_constraints:
        face_set="|".join(FACE_SETS) or "(?!)",  # (?!) matches nothing: no face sets declared
    params:
        corpus=lambda wc: config["corpora"][wc.face_set],
        ingest=config["ingest"],
        video=config["features"]["video"],
    log:
        "logs/ingest/{face_set}.log",
    priority: 10  # the face chain starts first, as FER2013's
    threads: threads_of("ingest")
    resources:
        mem_mb=mem_of("ingest"),
        runtime=runtime_of("ingest"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/ingest_face_set.py"
