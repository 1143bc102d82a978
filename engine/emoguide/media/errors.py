"""One exception family for everything that can go wrong with media bytes.

The pipeline catches :class:`MediaError` per clip, records the message on the
clip (and a "media offline" marker where the file is missing) and goes on with
the rest of the timeline. Every message names the file.
"""

from __future__ import annotations

from pathlib import Path


class MediaError(Exception):
    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class MediaOffline(MediaError):
    """The file is missing or cannot be opened for reading (offline drive, permissions)."""


class MediaCorrupt(MediaError):
    """The file exists but libav cannot parse or decode it (truncated, damaged, not media)."""


class UnsupportedCodec(MediaError):
    """The container is readable but this libav build has no decoder for the stream."""


class EmptyRange(MediaError):
    """The requested range is empty or lies outside the media."""


def translate(path: str | Path, exc: BaseException) -> MediaError:
    """Map an OS/PyAV exception to the matching :class:`MediaError` subclass."""
    import av

    if isinstance(exc, MediaError):
        return exc
    if isinstance(exc, IsADirectoryError) or isinstance(exc, getattr(av, "IsADirectoryError", ())):
        return MediaOffline(path, "is a folder, not a media file")
    if isinstance(exc, FileNotFoundError) or isinstance(exc, getattr(av, "FileNotFoundError", ())):
        return MediaOffline(path, "file not found (media offline)")
    if isinstance(exc, PermissionError) or isinstance(exc, getattr(av, "PermissionError", ())):
        return MediaOffline(path, "permission denied")
    if isinstance(exc, getattr(av, "DecoderNotFoundError", ())):
        return UnsupportedCodec(path, f"no decoder for this codec in libav ({exc})")
    if isinstance(exc, getattr(av, "InvalidDataError", ())):
        return MediaCorrupt(path, f"invalid or truncated media data ({exc})")
    if isinstance(exc, OSError) and not isinstance(exc, getattr(av, "FFmpegError", ())):
        return MediaOffline(path, f"cannot read the file ({exc.strerror or exc})")
    return MediaCorrupt(path, f"cannot read media ({type(exc).__name__}: {exc})")
