"""Train and evaluate the facial expression classifier on FER2013's official splits.

Train on ``Training``, choose the epoch on ``PublicTest``, report ``PrivateTest``
once (FER2013 has no person ids; the official splits are the standard protocol).
The shipped model is an ensemble: one net of width :data:`SHIPPED_WIDTH` per seed of
:data:`SHIPPED_SEEDS`, same recipe (a 60-epoch cycle, then a 10-epoch warm restart, kept
where it beats that cycle on PublicTest), combined with their int8 copies by
``face_ensemble.combine``. They were trained on a GPU (scripts/gpu_face_training.sh: ~5 min
per member, six at once on an H200); the defaults below reproduce them anywhere.

    python -m emoguide.training.face --data ../shared/data            # hours per member on 2 CPU cores;
                                                                      # stopped, the same command resumes
    python -m emoguide.training.face --data ../shared/data --seeds 5:32 --out /tmp/cand --no-eval
                                                                      # one candidate member of width 32
                                                                      # (SEED:WIDTH; a bare SEED takes --width)
    scripts/gpu_face_training.sh                                      # on a lent GPU: pack, train, judge, ship
    emoguide eval --task face --data ../shared/data                   # PrivateTest metrics
"""

from __future__ import annotations

import argparse
import datetime
import logging
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from emoguide.evaluation.machine import cpu_model
from emoguide.evaluation.metrics import ClassificationReport, classification_report
from emoguide.labels import LABEL_INDEX, LABELS, to_common
from emoguide.recognition.base import WEIGHTS_DIR, save_atomically, save_weights, sha256_of

log = logging.getLogger(__name__)
WEIGHTS_NAME = "face_expression.pt"
SPLITS = ("Training", "PublicTest", "PrivateTest")
RESUME_NAME = "face_expression.resume.pt"  # a run's state after its latest epoch (see train)
FER_CACHE = Path("/tmp/emoguide_fer")  # decoded splits (see load_split); outside the repo, never committed
AUGMENTATION = ("horizontal flip, ±10° rotation, ±10 % scale, ±4 px shift, brightness/contrast jitter; label "
                "smoothing 0.1; class weights √(inverse frequency) for the rare disgust class")
OPTIMISER = "AdamW (weight decay 5e-4), one-cycle learning rate (15 % warm-up)"


def load_split(data_dir: Path, split: str, cache_dir: Path = FER_CACHE) -> tuple[np.ndarray, np.ndarray]:
    """``(images (N,48,48) uint8, labels (N,) common-space indices)``; decoded once, cached as .npz.

    The cache key is the split folder's resolved path plus the names, sizes and times of its
    files, so another copy of FER2013, or an edited one, is decoded afresh rather than served
    from the last folder's cache.
    """
    import hashlib

    from PIL import Image

    root = Path(data_dir) / "fer2013" / split
    if not root.is_dir():
        raise FileNotFoundError(f"FER2013 split not found: {root}")
    files = [(label_dir.name, f) for label_dir in sorted(p for p in root.iterdir() if p.is_dir())
             for f in sorted(label_dir.glob("*.jpg"))]
    key = hashlib.sha1(str(root.resolve()).encode())
    for label, f in files:
        st = f.stat()
        key.update(f"{label}/{f.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    cache = Path(cache_dir) / f"{split}-{key.hexdigest()[:16]}.npz"
    if cache.is_file():
        d = np.load(cache)
        return d["x"], d["y"]
    if not files:
        raise FileNotFoundError(f"no .jpg images under {root}/<label>/")
    x = np.stack([np.asarray(Image.open(f).convert("L").resize((48, 48)), np.uint8) for _, f in files])
    y = np.array([LABEL_INDEX[to_common("fer2013", label)] for label, _ in files], np.int64)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".partial.npz")
    np.savez(tmp, x=x, y=y)
    tmp.replace(cache)  # atomic: a run stopped mid-write leaves no half cache behind
    return x, y


def augment(batch: torch.Tensor) -> torch.Tensor:
    """Random flip, ±10° rotation, ±10% scale, ±4 px shift, brightness/contrast jitter (one affine grid)."""
    n, dev = batch.shape[0], batch.device  # random numbers drawn where the batch is (same stream on the CPU)
    flip = torch.where(torch.rand(n, device=dev) < 0.5, -1.0, 1.0)
    angle = (torch.rand(n, device=dev) - 0.5) * (20 * np.pi / 180)
    scale = 1 + (torch.rand(n, device=dev) - 0.5) * 0.2
    shift = (torch.rand(n, 2, device=dev) - 0.5) * (8 / 24)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, batch.shape, align_corners=False)
    out = F.grid_sample(batch, grid, padding_mode="border", align_corners=False)
    gain = 1 + (torch.rand(n, 1, 1, 1, device=dev) - 0.5) * 0.4
    bias = (torch.rand(n, 1, 1, 1, device=dev) - 0.5) * 0.2
    return (out * gain + bias).clamp(0, 1)


def predict(model, images: np.ndarray, batch: int = 512, tta: bool = True) -> np.ndarray:
    """Softmax probabilities (N, 7); with ``tta`` the mean over the image and its mirror."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i:i + batch]).to(device).float().div(255).unsqueeze(1)
            p = model(x).softmax(1)
            if tta:
                p = 0.5 * (p + model(torch.flip(x, dims=[3])).softmax(1))
            out.append(p.cpu().numpy())
    return np.concatenate(out)


def train(data_dir: Path, out_dir: Path = WEIGHTS_DIR, epochs: int = 50, batch: int = 128, lr: float = 3e-3,
          width: int = 24, seed: int = 0, threads: int = 2, cache_dir: Path = FER_CACHE,
          device: str | None = None, init: Path | None = None) -> dict:
    """Train on Training, keep the best PublicTest epoch, write it to ``out_dir``.

    ``init``: a member file to start from instead of random weights (a warm restart of a
    finished member; the earlier cycles' recipes and histories are kept in the file). The
    epoch kept is the best on PublicTest over every cycle: if no epoch of this one beats the
    best so far, the file keeps the weights it started from (``kept``: "previous cycle").

    ``device``: "cuda" on a GPU machine (the whole split lives there, 66 MB), else the CPU
    with ``threads`` threads; the default picks CUDA when torch sees one.

    Resumable: after every epoch the whole training state is saved beside the result
    (:data:`RESUME_NAME`), and a run of the same recipe into the same folder carries on from
    it, with the same weights an uninterrupted run ends with. A member takes ~2 hours on 2
    CPU cores, more than a stopped job or a closed laptop often leaves it.
    """
    from emoguide.recognition.base import pick_device
    from emoguide.recognition.face.expression import ExpressionNet

    started = time.time()
    torch.manual_seed(seed)
    np.random.seed(seed)
    device = pick_device(device)
    if device == "cpu":
        torch.set_num_threads(threads)
    Path(out_dir).mkdir(parents=True, exist_ok=True)  # now, not after an hour of training (a typo in --out)
    x_tr, y_tr = load_split(data_dir, "Training", cache_dir)
    x_val, y_val = load_split(data_dir, "PublicTest", cache_dir)
    # channels-last: oneDNN's direct convolutions train this net 1.3x faster on the CPU (472 -> 362 ms
    # per batch of 128 at width 24 on 2 cores); the saved tensors load into either layout
    model = ExpressionNet(width=width)
    previous = None
    if init is not None:
        previous = torch.load(init, map_location="cpu", weights_only=False)
        if "members" in previous or previous.get("width") != width:
            raise ValueError(f"{init}: not a one-net member file of width {width}")
        model.load_state_dict(previous["state_dict"])
    model = model.to(device, memory_format=torch.channels_last)
    steps = epochs * int(np.ceil(len(x_tr) / batch))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    counts = np.bincount(y_tr, minlength=len(LABELS)).astype(np.float32)
    class_w = torch.tensor((counts.sum() / counts / len(LABELS)) ** 0.5).to(device)  # soften the disgust imbalance
    best, best_state, history = -1.0, None, []
    best_before = None
    if previous is not None:  # the epoch to beat is the best so far: selection spans every cycle
        best = best_before = _best_public_acc(previous)
        best_state = {k: v.clone() for k, v in previous["state_dict"].items()}
    resume_path = Path(out_dir) / RESUME_NAME
    resume_key = {"epochs": epochs, "batch": batch, "lr": lr, "width": width, "seed": seed, "device": device,
                  "init": sha256_of(Path(init)) if init is not None else None,
                  "data": _fingerprint(x_tr, y_tr, x_val, y_val)}  # the faces themselves, not where they came from
    done, elapsed = 0, 0.0
    saved = torch.load(resume_path, map_location="cpu", weights_only=False) if resume_path.is_file() else None
    if saved is not None and saved["key"] == resume_key:
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        sched.load_state_dict(saved["sched"])
        torch.set_rng_state(saved["rng"])
        if device.startswith("cuda"):
            torch.cuda.set_rng_state(saved["cuda_rng"])
        best, best_state, history, done, elapsed = (saved[k] for k in ("best", "best_state", "history", "epoch",
                                                                       "elapsed"))
        log.warning("resuming after epoch %d of %d from %s", done, epochs, resume_path)
    elif saved is not None:
        log.warning("%s is from another recipe or data; starting afresh", resume_path)
    xt = torch.from_numpy(x_tr).to(device)
    yt = torch.from_numpy(y_tr).to(device)
    for epoch in range(done, epochs):
        model.train()
        t0 = time.time()
        order = torch.randperm(len(xt)).to(device)
        total = torch.zeros((), dtype=torch.float64, device=device)  # summed on the device: no sync per step
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            x = augment(xt[idx].float().div(255).unsqueeze(1)).contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(model(x), yt[idx], weight=class_w, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.detach() * len(idx)
        acc = float((predict(model, x_val, tta=False).argmax(1) == y_val).mean())
        mean_loss = float(total) / len(order)
        history.append({"epoch": epoch + 1, "loss": mean_loss, "public_acc": acc, "s": time.time() - t0})
        log.warning("epoch %d loss %.3f PublicTest %.4f (%.0fs)", epoch + 1, mean_loss, acc, time.time() - t0)
        if acc > best:
            best, best_state = acc, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        save_atomically({
            "key": resume_key, "epoch": epoch + 1, "model": model.state_dict(), "opt": opt.state_dict(),
            "sched": sched.state_dict(), "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state() if device.startswith("cuda") else None,
            "best": best, "best_state": best_state, "history": history,
            "elapsed": elapsed + time.time() - started}, resume_path)  # never checksummed: not a weight file
    path = Path(out_dir) / WEIGHTS_NAME
    recipe = {"epochs": epochs, "batch": batch, "lr": lr, "width": width, "seed": seed, "optimiser": OPTIMISER,
              "augmentation": AUGMENTATION, "device": device}
    where = torch.cuda.get_device_name() if device.startswith("cuda") else f"{threads} threads of {cpu_model()}"
    run = {"minutes": round((elapsed + time.time() - started) / 60, 1), "where": where,
           "date": str(datetime.date.today())}
    blob = {"state_dict": best_state, "width": width, "labels": list(LABELS), "history": history,
            "recipe": recipe, "run": run}
    if previous is not None:  # the cycle before this one, kept for the card
        blob["previous"] = {k: previous[k] for k in ("history", "recipe", "run", "previous", "kept") if k in previous}
        blob["kept"] = "this cycle" if max(h["public_acc"] for h in history) > best_before else "previous cycle"
    save_weights(blob, path)
    resume_path.unlink(missing_ok=True)  # finished: the result replaces the state it was resumed from
    return {"public_acc": best, "history": history, "path": str(path), "device": device, "run": run}


def _fingerprint(*arrays: np.ndarray) -> str:
    """sha1 of the arrays' bytes (the training and selection faces: ~0.1 s for FER2013's 76 MB)."""
    import hashlib

    digest = hashlib.sha1()
    for a in arrays:
        digest.update(np.ascontiguousarray(a).data)
    return digest.hexdigest()


def member_cycles(member: dict) -> list[dict]:
    """A member's training cycles, first to last (each with its own history, recipe and run)."""
    previous = member.get("previous")
    return (member_cycles(previous) if previous else []) + [member]


def _best_public_acc(member: dict) -> float:
    """The best PublicTest accuracy over every cycle a member file records (its own and the ones before)."""
    return max(h["public_acc"] for cycle in member_cycles(member) for h in cycle["history"])


def evaluate(data_dir: Path, tta: bool | None = None, weights: Path | None = None,
             cache_dir: Path = FER_CACHE, int8: bool = True, split: str = "PrivateTest") -> ClassificationReport:
    """PrivateTest metrics as shipped: the mirror pass as the engine runs it (``tta``: None = the engine's
    ``MIRROR_TTA``), int8 on the CPU (``int8=False``: the float nets).

    Of the shipped, checksum-verified weights by default; of ``weights`` when given (a file just
    trained with ``--out`` elsewhere, so a candidate can be judged before it replaces the shipped one).
    ``split="PublicTest"`` scores the selection split instead: the one a candidate may be chosen on.
    """
    from emoguide.recognition.face.expression import MIRROR_TTA, load_expression_net

    tta = MIRROR_TTA if tta is None else tta
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    model = load_expression_net("cpu", weights, int8=int8)
    x, y = load_split(data_dir, split, cache_dir)
    how = ", ".join((["flip TTA"] if tta else []) + (["int8"] if model.int8_members else ["float"]))
    return classification_report(f"face: FER2013 {split} (official split, {how})", y,
                                 predict(model, x, tta=tta), LABELS)


#: the seeds of the shipped ensemble's members (each one run of :func:`train`, same recipe)
SHIPPED_SEEDS = (0, 1, 2, 3, 4, 5)
SHIPPED_WIDTH, SHIPPED_EPOCHS = 32, 60  # first-block channels and first-cycle epochs of each shipped member
#: after its first cycle each member gets up to RESTARTS warm restarts (a cycle of RESTART_EPOCHS at max
#: learning rate RESTART_LR from the best epoch so far), stopping at the first that does not beat the
#: best PublicTest epoch so far. The first cycles' PublicTest curves were still rising at epoch 50.
#: One restart: ensemble PublicTest 0.693 -> 0.700. A second (tried): 0.700 -> 0.699, so not the default.
RESTARTS, RESTART_EPOCHS, RESTART_LR = 1, 10, 1e-3
RESTART_SEED_OFFSET = 100  # restart r of seed s shuffles with seed s + 100·r: a new order, reproducibly
MEMBERS_DIR = Path("/tmp/emoguide_face_members")  # one trained member per seed and recipe; a rerun reuses them


def train_members(args) -> list[Path]:
    """Train (or reuse, when that seed and recipe already finished) one member per seed; their files.

    A member is its first cycle (``--epochs`` from random weights) followed by up to
    ``--restarts`` shorter cycles, each from the best epoch so far, until one fails to beat
    it on PublicTest (early stopping over cycles). Each cycle's result is kept in its own
    folder, inside the previous cycle's.
    """
    import hashlib

    files = []
    # the key names everything a member depends on: the data folder and the recipe, not just the seed
    recipe = hashlib.sha1(f"{Path(args.data).resolve()}|{AUGMENTATION}|{OPTIMISER}".encode()).hexdigest()[:8]
    common = dict(batch=args.batch, threads=args.threads, device=args.device, cache_dir=args.cache_dir)
    for spec in args.seeds:
        seed, width = spec if isinstance(spec, tuple) else (spec, None)
        width = width or args.width
        kwargs = dict(common, width=width)
        folder = args.members_dir / f"seed{seed}-width{width}-epochs{args.epochs}-batch{args.batch}-{recipe}"
        member = _train_or_reuse(folder, f"seed {seed}", args.data, epochs=args.epochs, seed=seed, **kwargs)
        for restart in range(1, args.restarts + 1):
            folder = folder / f"restart-epochs{args.restart_epochs}-lr{args.restart_lr:g}"
            member = _train_or_reuse(folder, f"seed {seed}, restart {restart}", args.data,
                                     epochs=args.restart_epochs, lr=args.restart_lr,
                                     seed=seed + RESTART_SEED_OFFSET * restart, init=member, **kwargs)
            if torch.load(member, map_location="cpu", weights_only=False)["kept"] != "this cycle":
                break  # no epoch beat the best so far: the member is final (the file holds that best)
        files.append(member)
    return files


def copy_member(path: Path, folder: Path, seed: int, width: int) -> Path:
    """``folder/member-seed{seed}-width{width}.pt``, a copy of a finished member, written atomically."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"member-seed{seed}-width{width}.pt"
    tmp = out.with_suffix(".partial")
    shutil.copyfile(path, tmp)
    tmp.replace(out)
    return out


def member_spec(text: str) -> tuple[int, int | None]:
    """``"5"`` → (5, None): seed 5 at ``--width``; ``"5:32"`` → (5, 32): seed 5 at width 32 (mixed ensembles)."""
    seed, colon, width = text.partition(":")
    try:
        spec = int(seed), (int(width) if colon else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected SEED or SEED:WIDTH, e.g. 5 or 5:32") from None
    if spec[1] is not None and spec[1] < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: the width must be a positive number of channels")
    return spec


def _train_or_reuse(folder: Path, name: str, data: Path, **kwargs) -> Path:
    if (folder / WEIGHTS_NAME).is_file():
        print(f"{name}: reusing {folder / WEIGHTS_NAME}")
    else:
        result = train(data, folder, **kwargs)
        print(f"{name}: best PublicTest {result['public_acc']:.4f}")
    return folder / WEIGHTS_NAME


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data"))
    p.add_argument("--epochs", type=int, default=SHIPPED_EPOCHS, help="epochs of each member's first cycle")
    p.add_argument("--width", type=int, default=SHIPPED_WIDTH, help="channels of the first block (doubling per block)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seeds", type=member_spec, nargs="+", default=list(SHIPPED_SEEDS), metavar="SEED[:WIDTH]",
                   help="one ensemble member per seed, of --width or of its own WIDTH (e.g. 0 1 5:32; "
                        "default: the shipped ensemble's)")
    p.add_argument("--restarts", type=int, default=RESTARTS,
                   help="at most this many warm restarts per member, while each beats the best PublicTest epoch so far")
    p.add_argument("--restart-epochs", type=int, default=RESTART_EPOCHS, help="epochs of each warm restart")
    p.add_argument("--restart-lr", type=float, default=RESTART_LR, help="max learning rate of each warm restart")
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda when torch sees a GPU)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="folder of the combined weight file")
    p.add_argument("--members-dir", type=Path, default=MEMBERS_DIR,
                   help="where each seed's member is trained; a finished member is reused, not retrained")
    p.add_argument("--cache-dir", type=Path, default=FER_CACHE, help="where decoded splits are cached")
    p.add_argument("--no-eval", action="store_true",
                   help="skip PrivateTest (a GPU machine that was sent Training and PublicTest only)")
    p.add_argument("--members-out", type=Path, default=None,
                   help="copy each finished member here as member-seedS-widthW.pt and stop (no combining: "
                        "members trained in parallel on a GPU machine are combined where they are judged)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from emoguide.training.face_ensemble import combine

    files = train_members(args)
    if args.members_out is not None:
        for spec, path in zip(args.seeds, files):
            seed, width = spec if isinstance(spec, tuple) else (spec, None)
            print(f"wrote {copy_member(path, args.members_out, seed, width or args.width)}")
        return
    out = combine(files, args.data, args.out / WEIGHTS_NAME, args.cache_dir)
    print(f"wrote {out} ({len(files)} members), sha256 {sha256_of(out)[:12]}")
    if not args.no_eval:
        print(evaluate(args.data, weights=out, cache_dir=args.cache_dir).format())
    if args.out.resolve() == WEIGHTS_DIR.resolve() and not args.no_eval:
        from emoguide.training.face_card import write_card

        print(f"wrote {write_card(args.data)}")


if __name__ == "__main__":
    main()
