"""demos/transfer_more.py: every study runs end to end (--quick) and prints its table, plots and results.json."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXPECTED = {  # study -> (text in its printed tables, its PNGs)
    "similar": (["similar task: LeNet-5 digits 0-4 -> digits 5-9", "probe conv1", "fine-tune last two (fc1, fc2)",
                 "scratch"], ["depth.png"]),
    "different": (["different task: ResNet-20 CIFAR-10 -> MNIST", "probe layer2 (4x4 grid)",
                   "fine-tune last stage (layer3)", "PCA: ResNet-20 features", "pretrained (CIFAR-10)"],
                  ["depth.png", "pca.png"]),
    "fc-conv": (["score map per class, stride 4 pixels", "digits read correctly"], ["score_maps.png"]),
    "multitask": (["multi-task: test accuracy % per task", "parity <- joint", "parity via digit <- digit alone"],
                  ["multitask.png"]),
    "backdoor": (["backdoored source: clean accuracy", "clean source | scratch", "drop"],
                 ["trigger.png", "triggered_answers.png"]),
}


@pytest.mark.parametrize("study", list(EXPECTED))
def test_transfer_more_study_quick(study, tmp_path):
    data, weights = os.environ.get("MINITL_DATA_DIR"), os.environ.get("MINITL_WEIGHTS_DIR")
    if not (data and (pathlib.Path(data) / "mnist" / "t10k-images-idx3-ubyte.gz").exists()
            and weights and (pathlib.Path(weights) / "resnet20-12fca82f.th").exists()):
        pytest.skip("needs MINITL_DATA_DIR (mnist/) and MINITL_WEIGHTS_DIR (resnet20) — CI uses ../shared")
    pytest.importorskip("matplotlib")
    done = subprocess.run([sys.executable, str(ROOT / "demos" / "transfer_more.py"), study, "--quick",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, MINITL_CACHE=str(tmp_path / "cache")))
    assert done.returncode == 0, done.stderr
    texts, pngs = EXPECTED[study]
    for text in texts:
        assert text in done.stdout, text
    for name in pngs:
        assert (tmp_path / study / name).read_bytes()[:4] == b"\x89PNG"
    results = json.loads((tmp_path / study / "results.json").read_text())
    assert results["study"] == study and results["quick"] is True and results["seeds"] == 1
    if study == "fc-conv":
        fc_conv = results["results"]
        assert len(fc_conv["found"]) == len(fc_conv["placed"]) == 6
        # where the padding frame is blank the two nets compute the same function: only float32 rounding is left
        assert 0 < fc_conv["windows_with_blank_padding_frame"] < 540
        assert fc_conv["max_difference_where_padding_frame_blank"] < 1e-4 < fc_conv["max_difference_to_every_window"]
        assert "windows whose padding frame is blank on the canvas" in done.stdout
    else:
        accuracies = [value for key, value in _leaves(results["results"]) if key in ("mean", "probe_accuracy")]
        assert accuracies and all(0 <= value <= 1 for value in accuracies)
    if study in ("similar", "different"):  # similar chooses a learning rate at every k, different keeps its first
        chosen = results["results"]["lr"]["fine-tune all"]
        assert list(chosen) == (["k=5", "k=10"] if study == "similar" else ["k=2"])
        assert ("kept for every k" in done.stdout) == (study == "different")
    if study == "backdoor":  # every triggered test digit lands in one cell of its row's confusion
        confusion = results["results"]["clean source | scratch"]["triggered_confusion"]
        assert len(confusion) == 5 and sum(map(sum, confusion)) == 200
    assert not (tmp_path / "cache").exists()  # everything came from the local directories: no download


def _leaves(tree, key=None):
    """(key, value) of every number in a nested dict/list."""
    if isinstance(tree, dict):
        for name, value in tree.items():
            yield from _leaves(value, name)
    elif isinstance(tree, list):
        for value in tree:
            yield from _leaves(value, key)
    else:
        yield key, tree
