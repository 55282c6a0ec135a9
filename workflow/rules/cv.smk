# k-fold cross-validation by speaker of the scikit-learn audio models: one job per model and
# fold (a wildcard), so -j8 or a cluster runs the folds side by side; then mean and std.


wildcard_constraints:
    fold=r"\d+",


rule cv_fold:
    input:
        features=FEATURE_TABLES["audio"],
        code=package_code("cv_fold.py"),
    output:
        fold=f"{REPORTS}/cv/audio/{{sklearn_model}}/fold_{{fold}}.json",
    params:
        cv=config["evaluation"]["cv"],
        grid=lambda wc: config["train"]["audio"][wc.sklearn_model],
        inner_folds=config["train"]["audio"]["cv_folds"],
        seed=config["train"]["seed"],
        input_options=AUDIO_INPUT,
        inductive=lambda wc: wc.sklearn_model in config["evaluation"]["cv"]["inductive"],
    log:
        f"logs/cv/audio_{{sklearn_model}}_fold_{{fold}}.log",
    threads: threads_of("train")
    resources:
        mem_mb=mem_of("train"),
        runtime=runtime_of("train"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/cv_fold.py"


rule cv_summary:
    input:
        folds=lambda wc: cv_fold_files(wc.sklearn_model),
        code=package_code("cv_summary.py"),
    output:
        **cv_files("{sklearn_model}"),
    log:
        f"logs/cv/audio_{{sklearn_model}}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/cv_summary.py"
