"""The face training script's plumbing: its data cache and a candidate judged before it ships.

Real training never runs here (hours on 2 cores, see weights/face_expression.md);
these run the same code on a dozen generated images in a folder laid out like FER2013.
"""

from __future__ import annotations

from argparse import Namespace

import numpy as np
import pytest
import torch
from PIL import Image

from emoguide.labels import LABELS
from emoguide.recognition.base import WEIGHTS_DIR, load_weights
from emoguide.training import face

FER_FOLDERS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def fake_fer(root, per_class: int = 2, seed: int = 0):
    """FER2013's layout, <split>/<label>/<n>.jpg, with noise images brighter for higher label indices."""
    rng = np.random.default_rng(seed)
    for split in face.SPLITS:
        for k, label in enumerate(FER_FOLDERS):
            folder = root / "fer2013" / split / label
            folder.mkdir(parents=True)
            for n in range(per_class):
                pixels = np.clip(rng.normal(30 + 30 * k, 10, (48, 48)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{n}.jpg")
    return root


def test_the_decoded_split_cache_follows_the_folder_and_its_files(tmp_path):
    cache = tmp_path / "cache"
    one, other = fake_fer(tmp_path / "one"), fake_fer(tmp_path / "other", per_class=3, seed=1)
    x1, y1 = face.load_split(one, "Training", cache)
    x2, y2 = face.load_split(other, "Training", cache)
    assert x1.shape == (14, 48, 48) and x2.shape == (21, 48, 48)  # not the first folder's cache
    assert sorted(set(y1.tolist())) == list(range(len(LABELS)))
    again, _ = face.load_split(one, "Training", cache)
    np.testing.assert_array_equal(again, x1)
    assert len(list(cache.glob("Training-*.npz"))) == 2

    edited = one / "fer2013" / "Training" / "happy" / "0.jpg"
    Image.fromarray(np.zeros((48, 48), np.uint8)).save(edited)
    x3, _ = face.load_split(one, "Training", cache)
    assert not np.array_equal(x3, x1)  # an edited image is decoded afresh
    assert not list(cache.glob("*.partial.npz"))


def test_a_missing_split_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match="FER2013 split not found: .*fer2013/Training"):
        face.load_split(tmp_path, "Training", tmp_path / "cache")


def test_a_candidate_trained_elsewhere_is_evaluated_without_touching_the_shipped_weights(tmp_path):
    data = fake_fer(tmp_path / "data")
    sums_before = (WEIGHTS_DIR / "checksums.json").read_text()
    result = face.train(data, tmp_path / "out", epochs=2, batch=8, width=4, threads=1, cache_dir=tmp_path / "c")
    assert (WEIGHTS_DIR / "checksums.json").read_text() == sums_before
    checkpoint = torch.load(result["path"], map_location="cpu", weights_only=False)
    assert checkpoint["width"] == 4 and checkpoint["labels"] == list(LABELS)
    assert [h["epoch"] for h in checkpoint["history"]] == [1, 2]

    report = face.evaluate(data, weights=tmp_path / "out" / face.WEIGHTS_NAME, cache_dir=tmp_path / "c")
    assert report.n == 14
    from emoguide.recognition.face.expression import ExpressionNet  # the candidate's own predictions, by hand

    net = ExpressionNet(width=4)
    net.load_state_dict(checkpoint["state_dict"])
    x, y = face.load_split(data, "PrivateTest", tmp_path / "c")
    predicted = face.predict(net, x).argmax(1)
    confusion = np.zeros((len(LABELS), len(LABELS)), int)
    np.add.at(confusion, (y, predicted), 1)
    assert report.confusion == confusion.tolist()
    assert report.accuracy == pytest.approx(float((predicted == y).mean()))

    from emoguide.training.face_card import card_text  # the card prints what the evaluation measured

    card = card_text(report, report, checkpoint, tmp_path / "out" / face.WEIGHTS_NAME)
    assert f"| accuracy | **{report.accuracy:.3f}**" in card and f"| Cohen's kappa | {report.kappa:.3f} |" in card
    assert "**Target missed**" in card and "The best PublicTest epoch is kept: " in card
    assert "batch 8, 2 epochs, seed 0" in card and "widths 4-8-16-32" in card


def test_a_stopped_run_resumes_where_it_stopped_and_ends_with_the_uninterrupted_weights(tmp_path, monkeypatch):
    data = fake_fer(tmp_path / "data")
    common = dict(epochs=4, batch=8, width=4, threads=1, cache_dir=tmp_path / "c")
    whole = face.train(data, tmp_path / "whole", **common)
    assert not (tmp_path / "whole" / face.RESUME_NAME).exists()  # a finished run leaves only its result

    evaluate = face.predict
    calls = []

    def stop_in_the_third_epoch(*args, **kwargs):  # as if the job were killed after two epochs
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(face, "predict", stop_in_the_third_epoch)
    with pytest.raises(KeyboardInterrupt):
        face.train(data, tmp_path / "stopped", **common)
    monkeypatch.setattr(face, "predict", evaluate)
    assert (tmp_path / "stopped" / face.RESUME_NAME).is_file() and not (tmp_path / "stopped" / face.WEIGHTS_NAME).exists()

    resumed = face.train(data, tmp_path / "stopped", **common)
    for key in ("loss", "public_acc"):  # later epochs' losses: same weights, shuffle, augmentation and schedule
        assert [h[key] for h in resumed["history"]] == [h[key] for h in whole["history"]], key
    final = [torch.load(r["path"], map_location="cpu", weights_only=False)["state_dict"] for r in (whole, resumed)]
    assert all(torch.equal(final[0][k], final[1][k]) for k in final[0])
    assert not (tmp_path / "stopped" / face.RESUME_NAME).exists()

    monkeypatch.setattr(face, "predict", stop_in_the_third_epoch)  # a state saved for another recipe is not used
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        face.train(data, tmp_path / "other", **common)
    monkeypatch.setattr(face, "predict", evaluate)
    other = face.train(data, tmp_path / "other", **{**common, "lr": 1e-3})
    assert [h["epoch"] for h in other["history"]] == [1, 2, 3, 4]
    assert other["history"][0]["loss"] != whole["history"][0]["loss"]  # trained afresh at its own rate


def test_the_training_command_trains_one_member_per_seed_reuses_finished_ones_and_combines_them(tmp_path, capsys):
    data = fake_fer(tmp_path / "data")
    sums_before = (WEIGHTS_DIR / "checksums.json").read_text()
    argv = ["--data", str(data), "--seeds", "0", "1", "--epochs", "1", "--restarts", "1", "--restart-epochs", "2", "--width", "4",
            "--batch", "8", "--threads", "1", "--out", str(tmp_path / "out"),
            "--members-dir", str(tmp_path / "members"), "--cache-dir", str(tmp_path / "c")]
    face.main(argv)
    first = capsys.readouterr().out
    combined = load_weights(tmp_path / "out" / face.WEIGHTS_NAME)
    # each member is its second cycle, which carries the first cycle it started from
    assert [m["recipe"]["seed"] for m in combined["members"]] == [100, 101]
    assert [m["previous"]["recipe"]["seed"] for m in combined["members"]] == [0, 1]
    assert [len(m["history"]) for m in combined["members"]] == [2, 2]
    first_cycle = torch.load(next((tmp_path / "members").glob("seed1-*")) / face.WEIGHTS_NAME, weights_only=False)
    assert combined["members"][1]["previous"]["history"] == first_cycle["history"]
    assert "face: FER2013 PrivateTest" in first and "reusing" not in first
    from emoguide.recognition.face import int8

    if int8.available():
        assert all("int8" in m for m in combined["members"])
    seeds_differ = not torch.equal(combined["members"][0]["state_dict"]["head.3.weight"],
                                   combined["members"][1]["state_dict"]["head.3.weight"])
    assert seeds_differ

    face.main(argv)  # a second run finds both members' cycles trained: nothing is retrained
    assert capsys.readouterr().out.count("reusing") == 4
    other = fake_fer(tmp_path / "other data", seed=1)
    face.main(["--data", str(other)] + argv[2:])  # the same seeds on other data: trained afresh
    assert "reusing" not in capsys.readouterr().out
    assert (WEIGHTS_DIR / "checksums.json").read_text() == sums_before  # --out elsewhere never touches it

    from emoguide.training.face_card import card_text

    report = face.evaluate(data, weights=tmp_path / "out" / face.WEIGHTS_NAME, cache_dir=tmp_path / "c")
    card = card_text(report, report, combined, tmp_path / "out" / face.WEIGHTS_NAME, member_accuracy=[0.1, 0.2])
    assert "An ensemble of 2 compact VGG-style CNNs" in card and "1 epochs, seeds 0, 1" in card
    assert "Then a warm restart: a cycle from the best epoch so far" in card
    assert "2 epochs, max learning rate 0.001" in card
    assert "Member 2 (seed 1): Cycle 1: best PublicTest epoch 1 of 1" in card
    assert "Cycle 2: best PublicTest epoch " in card
    assert card.count(", kept;") == 2  # each member names the one cycle whose weights it holds
    assert "| accuracy of each member alone | 0.100, 0.200 |" in card


def test_members_may_have_their_own_width_and_the_card_names_each(tmp_path, capsys):
    """``--seeds 0 1:6``: seed 0 at --width, seed 1 at width 6, restarts included; the card tells them apart."""
    data = fake_fer(tmp_path / "data")
    face.main(["--data", str(data), "--seeds", "0", "1:6", "--epochs", "1", "--restarts", "1", "--restart-epochs", "1",
               "--width", "4", "--batch", "8", "--threads", "1", "--out", str(tmp_path / "out"),
               "--members-dir", str(tmp_path / "members"), "--cache-dir", str(tmp_path / "c"), "--no-eval"])
    capsys.readouterr()
    combined = load_weights(tmp_path / "out" / face.WEIGHTS_NAME)
    assert [m["width"] for m in combined["members"]] == [4, 6]
    assert [m["recipe"]["width"] for m in combined["members"]] == [4, 6]  # the restart kept its member's width
    assert sorted(p.name.split("-")[1] for p in (tmp_path / "members").iterdir()) == ["width4", "width6"]

    from emoguide.training.face_card import card_text

    report = face.evaluate(data, weights=tmp_path / "out" / face.WEIGHTS_NAME, cache_dir=tmp_path / "c")
    card = card_text(report, report, combined, tmp_path / "out" / face.WEIGHTS_NAME)
    assert "An ensemble of 2 compact VGG-style CNNs of 2 widths" in card
    assert "widths 4-8-16-32" in card and "(seed 0)" in card and "widths 6-12-24-48" in card and "(seed 1)" in card

    assert face.member_spec("5") == (5, None) and face.member_spec("5:32") == (5, 32)
    for bad in ("five", "5:", "5:x", "5:0"):
        with pytest.raises(Exception, match="SEED|width"):
            face.member_spec(bad)


def test_a_second_cycle_starts_only_from_a_one_net_member_and_keeps_the_best_epoch_of_both_cycles(tmp_path):
    data = fake_fer(tmp_path / "data")
    first = face.train(data, tmp_path / "a", epochs=1, batch=8, width=4, threads=1, cache_dir=tmp_path / "c")
    with pytest.raises(ValueError, match="not a one-net member file of width 8"):
        face.train(data, tmp_path / "b", epochs=1, batch=8, width=8, threads=1, cache_dir=tmp_path / "c",
                   init=first["path"])
    member = torch.load(first["path"], weights_only=False)
    for name, first_best, kept in (("unbeatable", 1.01, "previous cycle"), ("beaten", -1.0, "this cycle")):
        # a first cycle whose best PublicTest epoch no epoch can beat (or every epoch beats)
        torch.save({**member, "history": [{**member["history"][0], "public_acc": first_best}]}, tmp_path / name)
        again = face.train(data, tmp_path / f"after-{name}", epochs=2, batch=8, width=4, threads=1,
                           cache_dir=tmp_path / "c", init=tmp_path / name, lr=1e-3)
        checkpoint = torch.load(again["path"], map_location="cpu", weights_only=False)
        assert checkpoint["kept"] == kept and checkpoint["recipe"]["lr"] == 1e-3
        assert checkpoint["previous"]["history"][0]["public_acc"] == first_best and len(checkpoint["history"]) == 2
        same = all(torch.equal(v, member["state_dict"][k]) for k, v in checkpoint["state_dict"].items())
        assert same == (kept == "previous cycle")


def test_restarts_stop_at_the_first_that_beats_no_earlier_epoch(tmp_path, monkeypatch):
    """Early stopping over cycles: a member is restarted while each restart improves, at most --restarts times."""
    outcomes = iter(["this cycle", "previous cycle", "this cycle"])  # restart 1 improves, restart 2 does not
    calls = []

    def fake_train(data, folder, **kwargs):
        calls.append(kwargs)
        blob = {"history": [], "state_dict": {}}
        if kwargs.get("init") is not None:
            blob["kept"] = next(outcomes)
        folder.mkdir(parents=True)
        torch.save(blob, folder / face.WEIGHTS_NAME)
        return {"public_acc": 0.5}

    monkeypatch.setattr(face, "train", fake_train)
    args = Namespace(data=tmp_path, seeds=[7], width=4, epochs=1, batch=8, threads=1, device="cpu",
                     cache_dir=tmp_path / "c", members_dir=tmp_path / "m", restarts=5,
                     restart_epochs=2, restart_lr=1e-3)
    (member,) = face.train_members(args)
    assert [c["seed"] for c in calls] == [7, 107, 207]  # the first cycle, then restarts 1 and 2; no third
    assert calls[2]["init"] == calls[1]["init"].parent / "restart-epochs2-lr0.001" / face.WEIGHTS_NAME
    assert member == calls[2]["init"].parent / "restart-epochs2-lr0.001" / face.WEIGHTS_NAME


def test_members_trained_apart_come_back_one_file_each_and_combine_into_a_candidate(tmp_path, capsys):
    """The GPU path: one process per SEED:WIDTH copies its member out (no combining), then they are combined here."""
    from emoguide.training.face_ensemble import combine

    data = fake_fer(tmp_path / "data")
    returned = tmp_path / "returned"
    for spec in ("0:4", "1:8"):
        face.main(["--data", str(data), "--seeds", spec, "--epochs", "1", "--restarts", "0", "--batch", "8",
                   "--threads", "1", "--members-out", str(returned), "--out", str(tmp_path / "never"),
                   "--members-dir", str(tmp_path / "members"), "--cache-dir", str(tmp_path / "c")])
    assert sorted(p.name for p in returned.iterdir()) == ["member-seed0-width4.pt", "member-seed1-width8.pt"]
    assert not (tmp_path / "never").exists()  # nothing combined where the members were trained
    assert "wrote " in capsys.readouterr().out
    one = torch.load(returned / "member-seed1-width8.pt", map_location="cpu", weights_only=False)
    assert one["width"] == 8 and one["recipe"]["seed"] == 1

    out = combine(sorted(returned.iterdir()), data, tmp_path / "cand" / face.WEIGHTS_NAME, tmp_path / "c")
    stored = load_weights(out)["members"][1]["state_dict"]
    assert {v.dtype for v in stored.values()} <= {torch.float16, torch.int64}  # float copies kept in half
    from emoguide.recognition.face.expression import member_net

    x = torch.rand(4, 1, 48, 48)
    full, half = member_net(one), member_net({"width": 8, "state_dict": stored})
    assert next(half.parameters()).dtype == torch.float32  # loaded back into float32 parameters
    with torch.inference_mode():
        assert torch.allclose(full(x).softmax(1), half(x).softmax(1), atol=5e-3)
    public = face.evaluate(data, weights=out, cache_dir=tmp_path / "c", split="PublicTest")
    private = face.evaluate(data, weights=out, cache_dir=tmp_path / "c")
    assert public.task.startswith("face: FER2013 PublicTest") and private.task.startswith("face: FER2013 PrivateTest")
    assert public.n == private.n == 14
    with pytest.raises(ValueError, match="split must be one of"):
        face.evaluate(data, weights=out, cache_dir=tmp_path / "c", split="Test")


def test_combined_files_are_gzipped_and_read_back_the_same(tmp_path):
    """The shipped ensemble is over 20 MiB as torch.save writes it; gzipped it is not (see recognition/base)."""
    from emoguide.recognition.base import GZIP_MAGIC, save_weights

    blob = {"w": torch.arange(1000, dtype=torch.float16), "name": "x"}
    plain, packed = save_weights(blob, tmp_path / "plain.pt"), save_weights(blob, tmp_path / "packed.pt", compress=True)
    assert packed.read_bytes()[:2] == GZIP_MAGIC and plain.read_bytes()[:2] != GZIP_MAGIC
    for path in (plain, packed):
        back = load_weights(path)
        assert back["name"] == "x" and torch.equal(back["w"], blob["w"])
    assert save_weights(blob, tmp_path / "again.pt", compress=True).read_bytes() == packed.read_bytes()  # deterministic


def test_face_framing_measures_each_expansion_on_the_central_face_and_restores_the_shipped_one():
    """The framing study (training/face_framing.py) crops the box nearest the centre at each expansion."""
    from types import SimpleNamespace

    from emoguide.recognition.face import expression
    from emoguide.training import face_framing

    images = np.tile(np.arange(48, dtype=np.uint8)[None, None, :] * 5, (4, 48, 1))  # a ramp left to right
    frames = face_framing.mirrored_frames(images)
    assert frames.shape == (4, 144, 144, 3)
    inner = frames[0, 24:120, 24:120, 0]
    assert np.array_equal(frames[0, 24:120, 23, 0], inner[:, 1])  # mirrored past the border, not a flat wall
    centre, corner = np.array([[40, 40, 104, 104]], np.float32), np.array([[0, 0, 30, 30]], np.float32)
    detector = SimpleNamespace(detect=lambda batch: [(np.concatenate([corner, centre]), np.array([0.99, 0.9]))
                                                     for _ in batch])
    seen = []

    def classify_crops(crops):  # "right" only when the crop is tighter than the box: its edges are inside
        seen.append(crops)
        tight = crops[:, :, 0].mean() > frames[0, 40:104, 40, 0].mean() / 255 - 1e-6
        probs = np.zeros((len(crops), 7), np.float32)
        probs[:, 0 if tight else 1] = 1
        return probs

    shipped = expression.BOX_EXPAND
    results = face_framing.accuracy_by_expansion(SimpleNamespace(detector=detector, classify_crops=classify_crops),
                                                 images, np.zeros(4, int), expansions=(-0.1, 0.1))
    assert expression.BOX_EXPAND == shipped
    assert results == {None: 1.0, -0.1: 1.0, 0.1: 0.0}
    assert all(c.shape == (4, 48, 48) for c in seen)
