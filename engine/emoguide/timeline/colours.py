"""One colour table for every host, so an emotion looks the same in Resolve, Premiere and Blender.

Each row maps a marker *kind* (an emotion class, or a guidance/event kind) to:
OTIO's ``MarkerColor`` name, DaVinci Resolve's marker colour name (Resolve has
16: Blue Cyan Green Yellow Red Pink Purple Fuchsia Rose Lavender Sky Mint Lemon
Sand Cocoa Cream), Premiere Pro's marker colour index (0 Green, 1 Red,
2 Purple, 3 Orange, 4 Yellow, 5 White, 6 Blue, 7 Cyan) and Blender's strip
colour tag (COLOR_01 red … COLOR_09 grey). Hosts must look colours up here,
never hard-code their own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MarkerColour:
    otio: str
    resolve: str
    premiere: int
    blender: str


COLOURS: dict[str, MarkerColour] = {
    # emotions (dominant fused class)
    "neutral": MarkerColour("WHITE", "Cream", 5, "COLOR_09"),
    "happy": MarkerColour("YELLOW", "Yellow", 4, "COLOR_03"),
    "sad": MarkerColour("BLUE", "Blue", 6, "COLOR_05"),
    "angry": MarkerColour("RED", "Red", 1, "COLOR_01"),
    "fearful": MarkerColour("PURPLE", "Purple", 2, "COLOR_06"),
    "disgust": MarkerColour("GREEN", "Green", 0, "COLOR_04"),
    "surprised": MarkerColour("ORANGE", "Sand", 3, "COLOR_02"),
    # everything that is not an emotion reading
    "guidance": MarkerColour("CYAN", "Cyan", 7, "COLOR_05"),
    "mixed_signals": MarkerColour("PINK", "Pink", 2, "COLOR_07"),
    "brief_expression": MarkerColour("MAGENTA", "Fuchsia", 2, "COLOR_07"),
    "media_offline": MarkerColour("BLACK", "Cocoa", 1, "COLOR_08"),
    "analysis_error": MarkerColour("BLACK", "Cocoa", 1, "COLOR_08"),
    "timeline": MarkerColour("CYAN", "Sky", 7, "COLOR_05"),
}


def colour_for(kind: str) -> MarkerColour:
    """The row for ``kind``; unknown kinds fall back to ``neutral`` rather than failing a run."""
    return COLOURS.get(kind, COLOURS["neutral"])


def as_json_table() -> dict[str, dict[str, object]]:
    """The table as plain JSON, for the JavaScript (Premiere) and Blender plugins."""
    return {k: {"otio": c.otio, "resolve": c.resolve, "premiere": c.premiere, "blender": c.blender} for k, c in COLOURS.items()}
