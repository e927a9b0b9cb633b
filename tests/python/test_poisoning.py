"""The poisoned-data pieces from Python: poison, apply_trigger, backdoor, manifest and
verify_manifest, and audit_features with logits, settings and the data's root. Each is checked
against exact values on a small case and, where the command line does the same, against it."""
import json
import os
import subprocess

import numpy as np
import pytest
import torch

import rampart


def _data(n=200, classes=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 1, 8, 8, generator=g) * 0.5
    labels = torch.arange(n) % classes
    return images, labels


def test_poison_badnets_stamps_the_patch_on_the_rate_of_other_classes():
    images, labels = _data()
    out = rampart.poison(images, labels, rate=0.1, target=2, seed=3,
                         trigger={"size": 2, "row": 0, "col": 5})
    poisoned = out["poisoned"]
    assert poisoned.numel() == 20 and poisoned.tolist() == sorted(poisoned.tolist())
    assert (labels[poisoned] != 2).all()                     # drawn from the other classes
    assert (out["labels"][poisoned] == 2).all()
    assert (out["images"][poisoned][:, :, 0:2, 5:7] == 1.0).all()
    untouched = torch.ones(200, dtype=torch.bool)
    untouched[poisoned] = False
    assert torch.equal(out["images"][untouched], images[untouched])
    assert torch.equal(out["labels"][untouched], labels[untouched])
    assert out["spec"]["target"] == 2 and out["spec"]["trigger"]["row"] == 0
    # The same trigger through apply_trigger gives the same stamped images.
    stamped = rampart.apply_trigger(images[poisoned], {"size": 2, "row": 0, "col": 5})
    assert torch.equal(stamped, out["images"][poisoned])
    # The input is not modified, and the same seed draws the same points.
    again = rampart.poison(images, labels, rate=0.1, target=2, seed=3,
                           trigger={"size": 2, "row": 0, "col": 5})
    assert torch.equal(again["poisoned"], poisoned) and images.max() <= 0.5


def test_a_patch_pattern_given_pixel_by_pixel():
    images, labels = _data()
    pattern = [[1.0, 0.0], [0.25, 0.75]]
    out = rampart.poison(images, labels, rate=0.1, target=2, seed=3,
                         trigger={"row": 6, "col": 0, "pattern": pattern})
    stamped = out["images"][out["poisoned"]][:, 0, 6:8, 0:2]
    assert torch.equal(stamped, torch.tensor(pattern).expand_as(stamped))
    assert out["spec"]["trigger"]["pattern"] == pattern and out["spec"]["trigger"]["size"] == 2
    # The recorded trigger stamps the same images again.
    again = rampart.apply_trigger(images[out["poisoned"]], out["spec"]["trigger"])
    assert torch.equal(again, out["images"][out["poisoned"]])
    with pytest.raises(rampart.ConfigError, match="square"):
        rampart.apply_trigger(images, {"pattern": [[1.0, 0.0]]})


def test_poison_blend_and_label_flips_and_their_errors():
    images, labels = _data()
    blend = rampart.poison(images, labels, attack="blend", rate=0.05, target=1, seed=0,
                           trigger={"alpha": 0.2})
    p = blend["poisoned"]
    assert p.numel() == 10
    # x' = 0.8 x + 0.2 pattern: the difference over 0.2 is the same pattern for every point.
    pattern = (blend["images"][p] - 0.8 * images[p]) / 0.2
    assert torch.allclose(pattern, pattern[0:1].expand_as(pattern), atol=1e-5)
    flips = rampart.poison(images, labels, attack="label_flip", rate=0.25, seed=1,
                           flip_from=3, flip_to=0)
    assert flips["poisoned"].numel() == 50                     # every point of class 3
    assert (labels[flips["poisoned"]] == 3).all() and (flips["labels"][flips["poisoned"]] == 0).all()
    assert torch.equal(flips["images"], images)
    with pytest.raises(rampart.ConfigError, match="rate"):
        rampart.poison(images, labels, rate=0.9, target=0)      # 180 asked, 150 eligible
    with pytest.raises(rampart.ConfigError, match="is for a backdoor"):
        rampart.poison(images, labels, attack="label_flip", trigger={"size": 3})
    with pytest.raises(rampart.ConfigError, match="does not fit"):
        rampart.poison(images, labels, target=0, trigger={"size": 9, "random_position": True})


def test_backdoor_measures_the_trigger_success_rate():
    class Triggered(torch.nn.Module):
        """Class 2 when pixel (0, 0) is bright, class 1 otherwise."""

        def forward(self, x):
            logits = torch.zeros(x.shape[0], 4)
            logits[:, 1] = 0.5
            logits[:, 2] = 10.0 * (x[:, 0, 0, 0] - 0.9)
            return logits

    images, labels = _data(40)
    corner = rampart.backdoor(Triggered(), images, labels, target=2,
                              trigger={"size": 3, "row": 0, "col": 0})
    assert corner.success.all() and corner.attack_id == "backdoor-patch-to-2"
    elsewhere = rampart.backdoor(Triggered(), images, labels, target=2,
                                 trigger={"size": 3, "row": 4, "col": 4})
    assert not elsewhere.success.any()


def test_edge_cases_are_plain_errors():
    images, labels = _data(30)
    with pytest.raises(ValueError, match="num_classes"):
        rampart.manifest(images[:0], labels[:0])
    assert rampart.manifest(images[:0], labels[:0], num_classes=4)["points"] == 0
    with pytest.raises(ValueError, match="num_classes"):
        rampart.poison(images[:0], labels[:0], target=0)
    with pytest.raises(ValueError, match="go together"):
        rampart.verify_manifest(images, labels, "m.json", signature="m.json.sig")
    with pytest.raises(rampart.DataError, match="the logits of flagged point 7 are not finite"):
        rampart.relabel_flagged(torch.tensor([3, 7]), torch.tensor([0, 1]),
                                torch.tensor([[1.0, 0.0], [float("nan"), 0.0]]))


def test_manifest_verifies_the_same_points_and_names_a_changed_one(tmp_path):
    images, labels = _data(30)
    manifest = rampart.manifest(images, labels)
    assert manifest["points"] == 30 and manifest["label_histogram"] == [8, 8, 7, 7]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(manifest))
    assert rampart.verify_manifest(images, labels, path) == manifest["root"]
    changed = images.clone()
    changed[3, 0, 2, 2] += 1e-3
    with pytest.raises(rampart.DataError, match="point 3 of python tensors has a changed image"):
        rampart.verify_manifest(changed, labels, path)
    with pytest.raises(rampart.DataError, match="point 29 of the manifest was removed"):
        rampart.verify_manifest(images[:29], labels[:29], path)
    # The command line's manifest of the same points (as .npy files) has the same root.
    if "RAMPART_BINARY" not in os.environ:
        pytest.skip("RAMPART_BINARY (the rampart CLI) is set by ctest")
    np.save(tmp_path / "x.npy", images.numpy())
    np.save(tmp_path / "y.npy", labels.numpy())
    (tmp_path / "c.yaml").write_text(
        "model: {arch: mlp, num_classes: 4, input: {shape: [1, 8, 8]}}\n"
        f"data: {{format: npy, images: {tmp_path}/x.npy, labels: {tmp_path}/y.npy}}\n")
    subprocess.run([os.environ["RAMPART_BINARY"], "data", "manifest", str(tmp_path / "c.yaml"),
                    "--out", str(tmp_path / "cli.json")], check=True, capture_output=True)
    assert json.loads((tmp_path / "cli.json").read_text())["root"] == manifest["root"]


def test_audit_features_takes_logits_settings_and_records_the_data_root():
    torch.manual_seed(1)
    images, labels = _data(300, classes=3)
    features = torch.randn(300, 8) + 4.0 * torch.nn.functional.one_hot(labels, 8).float()
    logits = 3.0 * torch.nn.functional.one_hot(labels, 3).float() + 0.3 * torch.randn(300, 3)
    flipped = torch.tensor([5, 50, 100, 150, 200, 250])
    noisy = labels.clone()
    noisy[flipped] = (labels[flipped] + 1) % 3
    # label_margin needs the logits (they disagree with the flipped labels); its robust rule
    # (a setting) flags the margins far below the median: exactly the flips.
    audit = rampart.audit_features(features, noisy, detectors=["label_margin"], logits=logits,
                                   settings={"label_margin": {"rule": "robust_z", "k": 3.0}})
    assert audit["flagged"] == flipped.tolist()
    with pytest.raises(ValueError, match="logits"):
        rampart.audit_features(features, noisy, detectors=["label_margin"])
    # A setting of the audit: section goes through, and a bad one is a located ConfigError.
    knn = rampart.audit_features(features, noisy, detectors=["knn_labels"],
                                 settings={"knn": {"k": 7, "min_share": 0.6}})
    assert knn["spec"]["knn"]["k"] == 7 and knn["spec"]["knn"]["min_share"] == 0.6
    with pytest.raises(rampart.ConfigError, match="tail_sd"):
        rampart.audit_features(features, noisy, settings={"tail_sd": 6})
    # settings are not overridden by the keywords' defaults; a key given both ways is refused.
    spec = rampart.audit_features(features, noisy, settings={"alpha": 0.05, "dims": 3})["spec"]
    assert spec["alpha"] == 0.05 and spec["dims"] == 3
    with pytest.raises(ValueError, match="alpha: given both"):
        rampart.audit_features(features, noisy, alpha=0.01, settings={"alpha": 0.05})
    # Features that require grad (straight from a model) and images of another row count.
    assert rampart.audit_features(features.requires_grad_(), noisy)["data"]["points"] == 300
    with pytest.raises(ValueError, match="images must be"):
        rampart.audit_features(features, noisy, images=images[:50])
    # With the images the audit is bound to exactly these points: data.root is their root.
    bound = rampart.audit_features(features, noisy, images=images)
    assert bound["data"]["root"] == rampart.manifest(images, noisy)["root"]
    assert rampart.audit_features(features, noisy)["data"]["root"] is None


def test_uint8_images_are_pixels_as_the_npy_reader_reads_them():
    images = (torch.rand(6, 1, 8, 8) * 255).to(torch.uint8)
    labels = torch.arange(6) % 3
    as_float = images.float() / 255
    assert rampart.manifest(images, labels)["root"] == rampart.manifest(as_float, labels)["root"]
