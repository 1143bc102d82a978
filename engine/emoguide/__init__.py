"""emoguide: what an edit makes people feel, and what to change.

Data flows one way: timeline → media ranges → decoded windows → per-modality
results → fusion → guidance → markers. The public entry point for scripts is
:func:`analyze_timeline`.
"""

__version__ = "0.1.0"

NAMESPACE = "emoguide"  # our key in OTIO metadata; markers carrying it are ours


def analyze_timeline(*args, **kwargs):  # noqa: D401 - thin lazy re-export
    """Analyse an OTIO timeline; see :func:`emoguide.pipeline.analyze.analyze_timeline`."""
    from emoguide.pipeline.analyze import analyze_timeline as _impl

    return _impl(*args, **kwargs)
