# Feature tables -> trained models (data/models/<modality>/<model>/ with a card.json).
# One job per model, so -j8 trains them side by side; each pins TF / BLAS to its threads.


wildcard_constraints:
    sklearn_model="|".join(SKLEARN_AUDIO),


rule train_audio_sklearn:
    input:
        features=FEATURE_TABLES["audio"],
        code=package_code("train_audio_sklearn.py"),
    output:
        model="data/models/audio/{sklearn_model}/model.skops",
        card="data/models/audio/{sklearn_model}/card.json",
    params:
        grid=lambda wc: config["train"]["audio"][wc.sklearn_model],
        folds=config["train"]["audio"]["cv_folds"],
        seed=config["train"]["seed"],
        input_options=AUDIO_INPUT,
    log:
        "logs/train/audio_{sklearn_model}.log",
    threads: threads_of("train")
    resources:
        mem_mb=mem_of("train"),
        runtime=runtime_of("train"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/train_audio_sklearn.py"


rule train_audio_sex:
    input:
        features=FEATURE_TABLES["audio_sex"],
        code=package_code("train_audio_sklearn.py"),
    output:
        model="data/models/audio_sex/{sklearn_model}/model.skops",
        card="data/models/audio_sex/{sklearn_model}/card.json",
    params:
        grid=lambda wc: config["train"]["audio_sex"][wc.sklearn_model],
        folds=config["train"]["audio"]["cv_folds"],
        seed=config["train"]["seed"],
        input_options=SEX_INPUT,
    log:
        "logs/train/audio_sex_{sklearn_model}.log",
    threads: threads_of("train")
    resources:
        mem_mb=mem_of("train"),
        runtime=runtime_of("train"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/train_audio_sklearn.py"


rule train_audio_cnn_lstm:
    input:
        features=FEATURE_TABLES["audio"],
        code=package_code("train_keras.py"),
    output:
        **model_files("audio", "cnn_lstm"),
    params:
        hp=config["train"]["audio"]["cnn_lstm"],
        seed=config["train"]["seed"],
        input_options={"speaker_norm": AUDIO_INPUT["speaker_norm"]},
    log:
        "logs/train/audio_cnn_lstm.log",
    threads: threads_of("train")
    resources:
        mem_mb=mem_of("train"),
        runtime=runtime_of("train"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/train_keras.py"


rule train_visual_cnn:
    input:
        features=FEATURE_TABLES["visual"],
        code=package_code("train_keras.py"),
    output:
        **model_files("visual", "cnn"),
    params:
        hp=config["train"]["visual"]["cnn"],
        seed=config["train"]["seed"],
        input_options={},
    log:
        "logs/train/visual_cnn.log",
    priority: 10  # the face chain is the real profile's longest path: it starts first
    threads: threads_of("train")
    resources:
        mem_mb=mem_of("train"),
        runtime=runtime_of("train"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/train_keras.py"
