import copy

import pytest
import yaml
from conftest import REPO

from emorec.errors import ParamsError
from emorec.params import validate_params


@pytest.fixture
def params():
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_shipped_params_are_valid(params):
    validate_params(params)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("features", "audio", "n_mfcc"), "twenty", r"features\.audio\.n_mfcc: got 'twenty'.*integer"),
        (("features", "audio", "shards"), 0, r"features\.audio\.shards: got 0.*minimum"),
        (("ingest", "max_reject_fraction"), 1.5, r"ingest\.max_reject_fraction: got 1\.5"),
        (("corpora", "ravdess", "test_actors"), [1, 1], r"corpora\.ravdess\.test_actors"),
        (("resources", "features", "threads"), "2", r"resources\.features\.threads: got '2'"),
        (("features", "faces", "equalize"), "yes", r"features\.faces\.equalize"),
        (("train", "audio", "models"), ["svm", "xgboost"], r"train\.audio\.models\.1: got 'xgboost'"),
        (("train", "audio", "svm", "C"), [0], r"train\.audio\.svm\.C\.0: got 0"),
        (("train", "visual", "cnn", "dropout"), 1.0, r"train\.visual\.cnn\.dropout: got 1\.0"),
        (("fusion", "label_map"), {"calm": "relaxed"}, r"fusion\.label_map\.calm: got 'relaxed'"),
    ],
)
def test_ill_typed_keys_are_named(params, path, value, message):
    bad = copy.deepcopy(params)
    node = bad
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ParamsError, match=message):
        validate_params(bad)


def test_unknown_and_missing_keys_are_named(params):
    bad = copy.deepcopy(params)
    bad["features"]["audio"]["n_mfccs"] = 13
    bad["trainig"] = {}
    del bad["demo"]["seed"]
    with pytest.raises(ParamsError) as info:
        validate_params(bad, source="my.yaml")
    text = str(info.value)
    assert "invalid my.yaml" in text
    assert "unknown key features.audio.n_mfccs" in text
    assert "unknown key trainig" in text
    assert "'seed' is a required property" in text


def test_overlapping_held_out_actors_fail(params):
    params["corpora"]["ravdess"]["val_actors"] = [5, 11]
    with pytest.raises(ParamsError, match=r"actors \[11\] are in both"):
        validate_params(params)


def test_fused_model_must_be_trained(params):
    params["train"]["audio"]["models"] = ["svm"]
    with pytest.raises(ParamsError, match=r"fusion\.audio_model: 'cnn_lstm' is not trained"):
        validate_params(params)


def test_per_block_conv_counts_must_match_the_blocks(params):
    cnn = params["train"]["visual"]["cnn"]
    cnn["convs_per_block"] = [1] + [2] * (len(cnn["filters"]) - 1)
    validate_params(params)
    cnn["convs_per_block"] = [1, 2]
    cnn["filters"] = [8, 16, 32]
    with pytest.raises(ParamsError, match=r"convs_per_block: 2 counts for 3 blocks"):
        validate_params(params)
