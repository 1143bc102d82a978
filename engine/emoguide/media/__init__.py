"""Everything that touches media bytes: probe, frame-exact video, drift-free audio, stats.

Time convention everywhere: seconds from the file's first frame (t = 0 is the
first video frame, or the first audio sample of audio-only files); container
start offsets are subtracted here, never by callers. Every failure is a
:class:`~emoguide.media.errors.MediaError` that names the file.
"""

from emoguide.media.audio import iter_audio_chunks, read_audio_range
from emoguide.media.errors import EmptyRange, MediaCorrupt, MediaError, MediaOffline, UnsupportedCodec
from emoguide.media.prefetch import prefetch
from emoguide.media.probe import MediaInfo, probe
from emoguide.media.video import VideoFrame, iter_video_frames, read_video_range

__all__ = [
    "EmptyRange", "MediaCorrupt", "MediaError", "MediaInfo", "MediaOffline", "UnsupportedCodec", "VideoFrame",
    "iter_audio_chunks", "iter_video_frames", "prefetch", "probe", "read_audio_range", "read_video_range",
]
