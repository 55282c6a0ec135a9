# Built-in demo corpora in the real formats, generated from demo.seed (nothing binary in git).


rule demo_ravdess:
    input:
        code=package_code("demo_ravdess.py"),
    output:
        archive=DEMO_ARCHIVES["ravdess"],
    params:
        demo=config["demo"],
    log:
        "logs/demo/ravdess.log",
    threads: threads_of("demo")
    resources:
        mem_mb=mem_of("demo"),
        runtime=runtime_of("demo"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/demo_ravdess.py"


rule demo_fer2013:
    input:
        code=package_code("demo_fer2013.py"),
    output:
        archive=DEMO_ARCHIVES["fer2013"],
    params:
        demo=config["demo"],
    log:
        "logs/demo/fer2013.log",
    threads: threads_of("demo")
    resources:
        mem_mb=mem_of("demo"),
        runtime=runtime_of("demo"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/demo_fer2013.py"


rule demo_ravdess_video:
    input:
        speech=DEMO_ARCHIVES["ravdess"],
        code=package_code("demo_ravdess_video.py"),
    output:
        archive=DEMO_ARCHIVES["ravdess_video"],
    params:
        demo=config["demo"],
    log:
        "logs/demo/ravdess_video.log",
    threads: threads_of("demo")
    resources:
        mem_mb=mem_of("demo"),
        runtime=runtime_of("demo"),
    conda:
        "../envs/emorec.yaml"
    script:
        "../scripts/demo_ravdess_video.py"
