# Models -> predictions, confusion matrices and per-class F-scores; then fusion and the report.


wildcard_constraints:
    modality="audio|visual|audio_sex",


rule evaluate:
    input:
        unpack(lambda wc: model_files(wc.modality, wc.model)),
        features=lambda wc: FEATURE_TABLES[wc.modality],
        code=package_code("evaluate.py"),
    output:
        **reported(evaluation_files("{modality}", "{model}"), "{modality}", "{model}"),
    params:
        shared_classes=config["evaluation"]["shared_classes"],
    log:
        "logs/evaluate/{modality}_{model}.log",
    threads: threads_of("evaluate")
    resources:
        mem_mb=mem_of("evaluate"),
        runtime=runtime_of("evaluate"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/evaluate.py"


rule fuse:
    input:
        audio=evaluation_files("audio", config["fusion"]["audio_model"])["predictions_parquet"],
        visual=evaluation_files("visual", config["fusion"]["visual_model"])["predictions_parquet"],
        code=package_code("fuse.py"),
    output:
        **reported(FUSION_FILES, "fusion", "simulated pairs"),
    params:
        fusion=config["fusion"],
    log:
        "logs/evaluate/fusion.log",
    threads: 1
    resources:
        mem_mb=mem_of("evaluate"),
        runtime=runtime_of("evaluate"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/fuse.py"


rule report:
    input:
        metrics=report_inputs(),
        code=package_code("report.py"),
    output:
        metrics=f"{REPORTS}/metrics.json",
        results=f"{REPORTS}/results.md",
    log:
        "logs/report.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/report.py"


rule track:
    input:
        metrics=f"{REPORTS}/metrics.json",
        models=[model_files(m, n)["model"] for m, n in trained_models()],
        evaluations=[evaluation_files(m, n)["predictions_parquet"] for m, n in trained_models()],
        fusion=FUSION_FILES["metrics_json"],
        summaries=[ingest_outputs(c)["summary"] for c in CORPORA],
        serving=[FEATURE_TABLES["audio"]] + ([AV_FILES["weights_csv"]] if USES_VIDEO else []),
        code=package_code("track.py"),
    output:
        run=f"{REPORTS}/mlflow_run.json",
    params:
        tracking=config["tracking"],
        models=[
            {"modality": m, "name": n, "features": FEATURE_TABLES[m]} for m, n in trained_models()
        ],
        demo=uses_demo_data(),
    log:
        "logs/track.log",
    threads: threads_of("track")
    resources:
        mem_mb=mem_of("track"),
        runtime=runtime_of("track"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/track.py"
