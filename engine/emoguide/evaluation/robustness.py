"""How much each recogniser, and the fusion, loses under realistic degradations.

Conditions (the seed paper's robustness section, made concrete):

* **speech noise** at 20 / 10 / 0 dB SNR on RAVDESS test actors (21-24): white
  Gaussian noise, and babble (six other talkers from RAVDESS training actors
  summed), SNR measured over the whole clip; the voice recogniser re-runs.
* **face blur** (Gaussian, radius 1.5 px on the 48 px crop, like a soft or
  out-of-focus shot), **low light** (brightness ×0.3 with gamma 1.3 and sensor
  noise σ = 4 grey levels, quantised), **clutter** (the frame around the face
  filled with random texture and hard-edged shapes instead of a plain wall) on FER2013 PrivateTest; the face recogniser re-runs (detector and classifier:
  each face is a 96 px close-up in a 144 px frame, see ``fusion_sources.run_face``).
* **each modality removed** in turn from the fusion's test windows, and the
  fusion fed the degraded voice/face predictions.

Subsampled (stated ``n``) and cached under ``/tmp`` to stay within minutes of CPU.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emoguide.training.fusion_data import Pool, cached_pool

log = logging.getLogger(__name__)

SNRS_DB = (20.0, 10.0, 0.0)


# ------------------------------------------------------------------ degradations
def add_noise(audio: np.ndarray, snr_db: float, noise: np.ndarray) -> np.ndarray:
    """``audio`` plus ``noise`` scaled to ``snr_db`` (power ratio over the whole clip)."""
    noise = np.resize(noise, audio.shape).astype(np.float64)
    p_sig = float(np.mean(audio.astype(np.float64) ** 2)) + 1e-12
    p_noise = float(np.mean(noise ** 2)) + 1e-12
    scale = np.sqrt(p_sig / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (audio + scale * noise).astype(np.float32)


def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(n).astype(np.float32)


def babble_noise(n: int, talkers: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Sum of several other talkers, each at a random offset and unit power: speech-like noise."""
    out = np.zeros(n, np.float64)
    for t in talkers:
        t = t / (np.sqrt(np.mean(t.astype(np.float64) ** 2)) + 1e-9)
        shift = int(rng.integers(0, max(1, len(t))))
        out += np.resize(np.roll(t, shift), n)
    return out.astype(np.float32)


def blur(images: np.ndarray, radius: float = 1.5) -> np.ndarray:
    from PIL import Image, ImageFilter

    return np.stack([np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(radius))) for im in images])


def low_light(images: np.ndarray, rng: np.random.Generator, gain: float = 0.3, gamma: float = 1.3,
              noise_sigma: float = 4.0) -> np.ndarray:
    x = (images.astype(np.float64) / 255.0) ** gamma * gain * 255.0
    x += rng.normal(0.0, noise_sigma, size=x.shape)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def textured_background(size: int, rng: np.random.Generator) -> np.ndarray:
    """Random clutter: blocky multi-scale noise with a few hard-edged rectangles."""
    from PIL import Image

    bg = np.zeros((size, size))
    for cells in (3, 6, 12, 24):
        coarse = rng.uniform(0, 255, size=(cells, cells))
        bg += np.asarray(Image.fromarray(coarse.astype(np.uint8)).resize((size, size), Image.BILINEAR), float)
    bg /= 4.0
    for _ in range(4):
        x0, y0 = rng.integers(0, size - 4, size=2)
        x1, y1 = x0 + rng.integers(3, size // 2), y0 + rng.integers(3, size // 2)
        bg[y0:y1, x0:x1] = rng.uniform(0, 255)
    return np.clip(bg, 0, 255).astype(np.uint8)


def clutter_backgrounds(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """(n, size, size) textured backgrounds for the frames the faces are placed in."""
    return np.stack([textured_background(size, rng) for _ in range(n)])


# ------------------------------------------------------------------ report
@dataclass
class RobustnessReport:
    rows: list[dict] = field(default_factory=list)  # group, condition, n, accuracy, uar, drop, reliability
    notes: list[str] = field(default_factory=list)

    def add(self, group: str, condition: str, y: np.ndarray, probs: np.ndarray, rel: np.ndarray | None = None,
            present: np.ndarray | None = None, baseline: str = "clean") -> None:
        from emoguide.labels import LABELS
        from emoguide.evaluation.metrics import classification_report

        rep = classification_report(f"{group}/{condition}", y, probs, LABELS)
        base = next((r for r in self.rows if r["group"] == group and r["condition"] == baseline), None)
        self.rows.append({"group": group, "condition": condition, "n": int(len(y)), "accuracy": rep.accuracy,
                          "uar": rep.uar, "macro_f1": rep.macro_f1,
                          "drop": (base["accuracy"] - rep.accuracy) if base else 0.0,
                          "found": float(np.mean(present)) if present is not None else float("nan"),
                          "reliability": float(np.mean(rel[present > 0] if present is not None else rel))
                          if rel is not None and (present is None or np.any(present)) else float("nan")})

    def as_dict(self) -> dict:
        return {"rows": self.rows, "notes": self.notes}

    def format(self) -> str:
        lines = ["== robustness (accuracy drop = clean accuracy - degraded accuracy, in points)",
                 f"{'group':<16}{'condition':<26}{'n':>6}{'acc':>8}{'UAR':>8}{'macroF1':>9}{'drop':>8}"
                 f"{'found':>7}{'mean rel':>10}"]
        for r in self.rows:
            rel = "" if np.isnan(r["reliability"]) else f"{r['reliability']:.2f}"
            found = "" if np.isnan(r["found"]) else f"{r['found']:.2f}"
            lines.append(f"{r['group']:<16}{r['condition']:<26}{r['n']:>6}{r['accuracy']:>8.3f}{r['uar']:>8.3f}"
                         f"{r['macro_f1']:>9.3f}{100 * r['drop']:>+8.1f}{found:>7}{rel:>10}")
        lines.append("found = share of inputs where the recogniser found a face / the modality was present; "
                     "mean rel over those")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)


# ------------------------------------------------------------------ runs
def _stratified(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """About ``n`` indices with classes in their original proportions (fixed seed)."""
    rng = np.random.default_rng(seed)
    if n >= len(y):
        return np.arange(len(y))
    picks = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        k = max(1, int(round(n * len(rows) / len(y))))
        picks.append(rng.choice(rows, size=min(k, len(rows)), replace=False))
    return np.sort(np.concatenate(picks))


def voice_conditions(data_dir: Path, voice, n: int = 48, seed: int = 0,
                     kinds: tuple[str, ...] = ("white", "babble"), clean_pool: Pool | None = None) -> dict[str, Pool]:
    """Voice predictions on ``n`` RAVDESS test-actor clips, clean and at each SNR; keys like ``white 10 dB``.

    ``clean_pool`` (the full test-actor pool, same file order) saves re-running the clean clips.
    """
    from emoguide.training.fusion_sources import SPLITS, ravdess_items, read_audio16k, run_voice

    items = ravdess_items(data_dir, SPLITS["voice"]["test"])
    y = np.array([it[1] for it in items])
    idx = _stratified(y, n, seed)
    items = [items[i] for i in idx]
    audios = [read_audio16k(it[0]) for it in items]
    talkers = [read_audio16k(it[0]) for it in ravdess_items(data_dir, (1, 2, 3, 4, 6, 7))[::10][:6]]
    out = {}
    if clean_pool is not None and [it[0].name for it in items] == [clean_pool.ids[i] for i in idx]:
        out["clean"] = clean_pool.subset(idx)
    for kind in ("clean",) + tuple(f"{k} {int(s)} dB" for k in kinds for s in SNRS_DB):
        if kind in out:
            continue

        def build(kind=kind) -> Pool:
            rng = np.random.default_rng(seed)
            noisy = []
            for a in audios:
                if kind == "clean":
                    noisy.append(a)
                    continue
                name, snr = kind.split()[0], float(kind.split()[1])
                noise = white_noise(len(a), rng) if name == "white" else babble_noise(len(a), talkers, rng)
                noisy.append(add_noise(a, snr, noise))
            probs, rel, _ = run_voice(voice, noisy)
            return Pool("voice", kind, probs, rel, np.array([it[1] for it in items]), [it[0].name for it in items])

        out[kind] = cached_pool("voice", f"robust_{kind.replace(' ', '')}_n{n}_s{seed}", voice.spec.version, build)
    return out


def face_conditions(data_dir: Path, face, n: int = 700, seed: int = 0) -> dict[str, Pool]:
    """Face predictions on ``n`` FER2013 PrivateTest images: clean, blur, low light, clutter."""
    from emoguide.training.fusion_sources import CANVAS_PX, SPLITS, fer_items, load_grey, run_face

    items = fer_items(data_dir, SPLITS["face"]["test"])
    y = np.array([it[1] for it in items])
    idx = _stratified(y, n, seed)
    images = load_grey([items[i][0] for i in idx])
    transforms = {
        "clean": lambda x, r: (x, None),
        "blur": lambda x, r: (blur(x), None),
        "low light": lambda x, r: (low_light(x, r), None),
        "clutter": lambda x, r: (x, clutter_backgrounds(len(x), CANVAS_PX, r)),
    }
    out = {}
    for name, fn in transforms.items():

        def build(fn=fn, name=name) -> Pool:
            rng = np.random.default_rng(seed)
            imgs, backgrounds = fn(images, rng)
            probs, rel, present = run_face(face, imgs, backgrounds)
            return Pool("face", name, probs, rel, y[idx], [items[i][0].name for i in idx], extra={"present": present})

        out[name] = cached_pool("face", f"robust_{name.replace(' ', '')}_n{n}_s{seed}", face.spec.version, build)
    return out


def fusion_conditions(report: RobustnessReport, fuse, test_pools: dict[str, Pool],
                      voice_pools: dict[str, Pool], face_pools: dict[str, Pool], n: int = 2000, seed: int = 1) -> None:
    """Fusion accuracy with each modality removed, and fed degraded voice/face predictions.

    ``fuse(PairSet) -> probs``. The degraded conditions re-pair the test windows
    with the subsampled (clean or degraded) voice/face pools, so each is compared
    with the same-subsample clean row, not with the full test set.
    """
    from emoguide.recognition.fusion_baselines import MODALITIES
    from emoguide.training.fusion_data import make_pairs

    pairs, _ = make_pairs(test_pools, n, seed)
    report.add("fusion", "clean", pairs.y, fuse(pairs))
    for m in MODALITIES:
        ps = pairs.without(m)
        report.add("fusion", f"without {m}", ps.y, fuse(ps))
    for group, pools_ in (("fusion+voice", voice_pools), ("fusion+face", face_pools)):
        modality = "voice" if group.endswith("voice") else "face"
        for cond, pool in pools_.items():
            mixed = dict(test_pools)
            mixed[modality] = pool
            ps, _ = make_pairs(mixed, n, seed)
            j = MODALITIES.index(modality)
            report.add(group, cond, ps.y, fuse(ps), ps.rel[:, j], ps.mask[:, j])
