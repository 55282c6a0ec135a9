# Manifests -> feature tables. Audio is sharded by speaker so -j8 (or a cluster) parallelises it;
# the shards of every corpus in corpora.speech merge straight into the one table the models read.


wildcard_constraints:
    shard=r"\d+",
    corpus="|".join(SPEECH_CORPORA),


rule audio_features_shard:
    input:
        manifest="data/interim/{corpus}/manifest.parquet",
        archive=lambda wc: archive(wc.corpus),
        code=package_code("audio_features_shard.py"),
    output:
        shard="data/features/{corpus}/shards/{shard}.parquet",
    params:
        audio=config["features"]["audio"],
        max_compression_ratio=config["ingest"]["max_compression_ratio"],
    log:
        "logs/features/{corpus}/shard_{shard}.log",
    threads: threads_of("features")
    resources:
        mem_mb=mem_of("features"),
        runtime=runtime_of("features"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/audio_features_shard.py"


rule audio_features:
    input:
        tables=[shard for corpus in SPEECH_CORPORA for shard in audio_shards(corpus)],
        code=package_code("audio_features_merge.py"),
    output:
        table=FEATURE_TABLES["audio"],
    params:
        audio=config["features"]["audio"],
    log:
        "logs/features/audio.log",
    threads: 1
    resources:
        mem_mb=mem_of("features"),
        runtime=runtime_of("features"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/audio_features_merge.py"


rule audio_sex_features:
    input:
        features=FEATURE_TABLES["audio"],
        manifests=[ingest_outputs(c)["manifest"] for c in SPEECH_CORPORA],
        code=package_code("audio_sex_features.py"),
    output:
        table=FEATURE_TABLES["audio_sex"],
    log:
        "logs/features/audio_sex.log",
    threads: 1
    resources:
        mem_mb=mem_of("features"),
        runtime=runtime_of("features"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/audio_sex_features.py"


rule face_features:
    input:
        manifests=[ingest_outputs(c)["manifest"] for c in FACE_CORPORA],
        code=package_code("face_features.py"),
    output:
        table=FEATURE_TABLES["visual"],
    params:
        faces=config["features"]["faces"],
    log:
        "logs/features/faces.log",
    priority: 10  # the face chain is the real profile's longest path: it starts first
    threads: threads_of("features")
    resources:
        mem_mb=mem_of("features"),
        runtime=runtime_of("features"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/face_features.py"
