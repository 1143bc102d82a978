"""The voice modality: speech presence, prosody and vocal emotion per window, plus the words.

The Whisper encoder runs once over the clip's audio; every window then pools
the encoder frames it covers, weighted by speech probability, so overlapping
windows cost nothing extra. The emotion head and the affect head read the same
pooled numbers (one encoder layer: layer 2 of the PyTorch copy in 4 s chunks
for the shipped heads, see :class:`LayeredBackbone`), so CTranslate2's encoder
only runs when a head reads its last layer; words still come from it. A window without
speech (silence, music, effects) is *absent*, not "neutral": the fusion then
relies on the face and the words.

Valence and arousal of speech windows come from the affect head
(``voice_affect.pt``: the category norms of this window's probabilities shifted
by a learned RAVDESS intensity; see ``weights/vad.md``) when it ships; dominance
stays on the category norms. Without that file ``vad`` is None and the fusion
uses norms.
"""

from __future__ import annotations

import numpy as np
import torch

from emoguide.labels import vad_from_probs
from emoguide.recognition import base
from emoguide.recognition.base import (ModalityResult, Recogniser, RecogniserSpec, WeightsError, pick_device,
                                       register, sha256_of, verified_weights)
from emoguide.recognition.voice.affect import WEIGHTS_FILE as AFFECT_FILE
from emoguide.recognition.voice.affect import load_affect
from emoguide.recognition.voice.classifier import FEATURE_DIM, TO_COMMON, load_head, pooled_features
from emoguide.recognition.voice.prosody import frame_tracks, window_stats
from emoguide.recognition.voice.vad import SHIPPED_SPEECH_BACKEND, SpeechDetector, window_speech_prob
from emoguide.recognition.voice.whisper_backbone import load_backbone
from emoguide.recognition.voice.whisper_torch import LayeredBackbone

#: a window is "speech" when its speech probability reaches this
SPEECH_THRESHOLD = 0.5


@register("voice")
class VoiceRecogniser(Recogniser):
    def __init__(self, backbone, head: torch.nn.Module, vad: SpeechDetector, version: str, device: str,
                 affect: torch.nn.Module | None = None):
        super().__init__()
        self.backbone, self.head, self.vad, self.affect = backbone, head, vad, affect
        self._modules = {"head": head} if affect is None else {"head": head, "affect": affect}
        if isinstance(backbone, LayeredBackbone):  # its PyTorch encoder follows .to(device) too
            self._modules["backbone"] = backbone
        self.device = device
        self.spec = RecogniserSpec(modality="voice", version=version, window_s=2.0, hop_s=1.0, sample_rate=16000)

    @classmethod
    def load(cls, device: str | None = None) -> "VoiceRecogniser":
        device = pick_device(device)
        path = verified_weights("voice_emotion.pt")
        version, affect = sha256_of(path)[:12], None
        if (base.WEIGHTS_DIR / AFFECT_FILE).is_file():  # optional: absent → norms; corrupt → WeightsError
            affect_path = verified_weights(AFFECT_FILE)
            affect = load_affect(affect_path, device)
            version = f"{version}+a{sha256_of(affect_path)[:6]}"  # cache keys change with the affect head
        head = load_head(path, device)
        # Transcription runs at the engine's precision (int8 on CPU); a head that reads CTranslate2's own
        # last-layer frames gets the stored float weights it was trained on.
        backbone = load_backbone(device, None if head.encoder_layer is not None else "default")
        if affect is not None and affect.encoder_layer != head.encoder_layer:
            raise WeightsError(f"{AFFECT_FILE} reads encoder layer {_layer_name(affect.encoder_layer)} but "
                               f"voice_emotion.pt reads {_layer_name(head.encoder_layer)}; both heads pool the same "
                               "frames, so retrain the affect head (`emoguide train vad`)")
        if head.encoder_layer is not None:  # both heads read an earlier Whisper layer: CTranslate2's encoder idles
            backbone = LayeredBackbone(backbone, head.encoder_layer, with_last=False, device=device)
        # The shipped heads were trained and measured with the energy/flatness speech weights (see
        # voice_emotion.md); pinning the backend keeps an installed silero-vad from silently changing
        # the features they read. Retrain with Silero before switching this.
        return cls(backbone, head, SpeechDetector(backend=SHIPPED_SPEECH_BACKEND), version, device, affect)

    def predict(self, batch) -> ModalityResult:
        audio, starts, ends = batch
        return self.analyze_audio(audio, starts, ends)

    def analyze_audio(self, audio16k: np.ndarray, window_starts: np.ndarray, window_ends: np.ndarray) -> ModalityResult:
        """Windows in seconds relative to the start of ``audio16k``."""
        frames, times = self.backbone.encode(audio16k)
        tracks, speech = self.frame_tracks(audio16k, len(frames))
        return self.windows_from_frames(frames, times, tracks, speech, window_starts, window_ends)

    def frame_tracks(self, audio16k: np.ndarray, n_frames: int) -> tuple[np.ndarray, np.ndarray]:
        """Prosody tracks and speech probability on the 50 Hz encoder frame grid of ``audio16k``."""
        return frame_tracks(audio16k, n_frames), self.vad.frame_probs(audio16k, n_frames)

    def windows_from_frames(self, frames: np.ndarray, times: np.ndarray, tracks: np.ndarray, speech: np.ndarray,
                            window_starts: np.ndarray, window_ends: np.ndarray) -> ModalityResult:
        """Windows from frame-level arrays (split from :meth:`analyze_audio` so the pipeline can feed
        long media block by block, keeping only a few minutes of frames in memory)."""
        from emoguide.recognition.windowing import window_slices

        starts, ends = np.asarray(window_starts, float), np.asarray(window_ends, float)
        feats = np.zeros((len(starts), FEATURE_DIM), np.float32)  # what both heads read
        lo, hi = window_slices(times, starts, ends)
        for i in range(len(starts)):
            sel = slice(lo[i], max(lo[i], hi[i]))
            feats[i] = pooled_features(frames[sel], tracks[sel], speech[sel])
        with torch.inference_mode():
            p8 = (self.head(torch.from_numpy(feats).to(self.device)).cpu().numpy() if len(feats)
                  else np.zeros((0, 8)))
        speech_p = window_speech_prob(speech, times, starts, ends)
        present = speech_p >= SPEECH_THRESHOLD
        probs = np.where(present[:, None], p8 @ TO_COMMON, 1.0 / TO_COMMON.shape[1]).astype(np.float32)
        reliability = np.where(present, speech_p, 0.0).astype(np.float32)
        extras = {"speech_prob": speech_p, "ravdess_probs": p8.astype(np.float32)}
        extras.update(window_stats(tracks, times, starts, ends))
        vad = None
        if self.affect is not None:  # norms shifted by learned intensity, norm dominance; absent windows at the origin
            vad = vad_from_probs(probs).astype(np.float32)
            vad[:, :2] = self.affect.va(feats, p8 @ TO_COMMON)
            vad[~present] = 0.0
        return ModalityResult(probs=probs, confidence=(probs.max(1) * reliability).astype(np.float32),
                              present=present, reliability=reliability, vad=vad, extras=extras)

    def transcribe(self, audio16k: np.ndarray):
        return self.backbone.transcribe(audio16k)


def _layer_name(layer: int | None) -> str:
    return "CTranslate2's last" if layer is None else str(layer)
