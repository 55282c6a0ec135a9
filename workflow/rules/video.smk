# RAVDESS video clips -> video manifest -> faces of sampled frames and the clips' own audio
# tracks -> clip-level predictions and real audio-visual fusion (av. keys).


rule ingest_video:
    input:
        archives=video_archives(),
        code=package_code("ingest_video.py"),
    output:
        **ingest_outputs("ravdess_video"),
    params:
        split=config["corpora"]["ravdess"],
        ingest=config["ingest"],
    log:
        "logs/ingest/ravdess_video.log",
    threads: threads_of("ingest")
    resources:
        mem_mb=mem_of("ingest"),
        runtime=runtime_of("ingest"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/ingest_video.py"


rule video_faces:
    input:
        manifest=ingest_outputs("ravdess_video")["manifest"],
        archives=video_archives(),
        code=package_code("video_faces.py"),
    output:
        table=VIDEO_TABLES["faces"],
        summary=VIDEO_TABLES["faces_summary"],
    params:
        video=config["features"]["video"],
        equalize=config["features"]["faces"]["equalize"],
        max_compression_ratio=config["ingest"]["max_compression_ratio"],
    log:
        "logs/features/ravdess_video/faces.log",
    threads: threads_of("features")
    resources:
        mem_mb=mem_of("features"),
        runtime=runtime_of("features"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/video_faces.py"


rule video_audio:
    input:
        manifest=ingest_outputs("ravdess_video")["manifest"],
        archives=video_archives(),
        code=package_code("video_audio.py"),
    output:
        table=VIDEO_TABLES["audio"],
    params:
        audio=config["features"]["audio"],
        max_compression_ratio=config["ingest"]["max_compression_ratio"],
    log:
        "logs/features/ravdess_video/audio.log",
    threads: threads_of("features")
    resources:
        mem_mb=mem_of("features"),
        runtime=runtime_of("features"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/video_audio.py"


rule av_fuse:
    input:
        manifest=ingest_outputs("ravdess_video")["manifest"],
        faces=VIDEO_TABLES["faces"],
        faces_summary=VIDEO_TABLES["faces_summary"],
        av_audio=VIDEO_TABLES["audio"],
        audio_features=FEATURE_TABLES["audio"],
        audio_model=model_files("audio", config["fusion"]["audio_model"])["model"],
        visual_model=model_files("visual", config["fusion"]["visual_model"])["model"],
        code=package_code("av_fuse.py"),
    output:
        **reported(AV_FILES, "fusion", "audio-visual clips"),
    params:
        fusion=config["fusion"],
    log:
        "logs/evaluate/av_fusion.log",
    threads: threads_of("evaluate")
    resources:
        mem_mb=mem_of("evaluate"),
        runtime=runtime_of("evaluate"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/av_fuse.py"
