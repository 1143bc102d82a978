"""Text modality: emotion from caption/transcript words (MiniLM fine-tuned top + VADER).

Import :mod:`emoguide.recognition.text.recogniser` for :class:`TextRecogniser`
(registered as ``"text"``); this package stays import-light on purpose.
"""
