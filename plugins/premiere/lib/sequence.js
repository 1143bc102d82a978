// The active sequence as OTIO JSON: Premiere's own OTIO export (ProjectConverter.exportAsOpenTimelineIO) when
// this Premiere has it, else built from the track items (start/end/in point in ticks, media file paths).
"use strict";

const TICKS_PER_SECOND = 254016000000;

function rt(value, rate) {
  return { OTIO_SCHEMA: "RationalTime.1", value, rate };
}

function range(start, duration, rate) {
  return { OTIO_SCHEMA: "TimeRange.1", start_time: rt(start, rate), duration: rt(duration, rate) };
}

async function itemsTrack(ppro, track, kind, number, timebase, rate) {
  const items = track.getTrackItems(ppro.Constants.TrackItemType.CLIP, false) || [];
  const rows = [];
  for (const item of items) {
    const start = Number((await item.getStartTime()).ticks) / timebase;
    const end = Number((await item.getEndTime()).ticks) / timebase;
    const inPoint = Number((await item.getInPoint()).ticks) / timebase;
    let path = "";
    try {
      const clip = ppro.ClipProjectItem.cast(await item.getProjectItem());
      path = clip ? await clip.getMediaFilePath() : "";
    } catch (err) {
      path = "";
    }
    rows.push({ name: await item.getName(), start: Math.round(start), length: Math.round(end - start), inPoint: Math.round(inPoint), path });
  }
  rows.sort((a, b) => a.start - b.start);
  const children = [];
  let cursor = 0;
  for (const r of rows) {
    if (r.start < cursor) continue; // overlapping items cannot live on one OTIO track
    if (r.start > cursor) children.push({ OTIO_SCHEMA: "Gap.1", name: "", source_range: range(0, r.start - cursor, rate) });
    const ref = r.path ? { OTIO_SCHEMA: "ExternalReference.1", target_url: r.path, available_range: null }
      : { OTIO_SCHEMA: "MissingReference.1" };
    children.push({
      OTIO_SCHEMA: "Clip.2", name: r.name, media_references: { DEFAULT_MEDIA: ref }, active_media_reference_key: "DEFAULT_MEDIA",
      source_range: range(r.inPoint, r.length, rate), metadata: { premiere: { track_kind: kind, track_index: number - 1 } },
    });
    cursor = r.start + r.length;
  }
  return { OTIO_SCHEMA: "Track.1", name: `${kind[0]}${number}`, kind, children };
}

async function sequenceToOtio(ppro, sequence) {
  const timebase = Number(await sequence.getTimebase()); // ticks per frame
  const rate = TICKS_PER_SECOND / timebase;
  const tracks = [];
  for (const [kind, count, get] of [["Video", "getVideoTrackCount", "getVideoTrack"], ["Audio", "getAudioTrackCount", "getAudioTrack"]]) {
    const n = await sequence[count]();
    for (let i = 0; i < n; i++) tracks.push(await itemsTrack(ppro, await sequence[get](i), kind, i + 1, timebase, rate));
  }
  return {
    OTIO_SCHEMA: "Timeline.1", name: sequence.name, global_start_time: rt(0, rate),
    tracks: { OTIO_SCHEMA: "Stack.1", name: "tracks", children: tracks },
  };
}

// {timeline, route}. `io` = {tempPath(): string, readText(path): Promise<string>} for the export route (UXP fs).
async function readTimeline(ppro, sequence, io) {
  const converter = ppro.ProjectConverter;
  if (io && converter && typeof converter.exportAsOpenTimelineIO === "function") {
    try {
      const path = io.tempPath("emoguide-sequence.otio");
      if (await converter.exportAsOpenTimelineIO(sequence, path, true)) {
        return { timeline: JSON.parse(await io.readText(path)), route: "ProjectConverter (OTIO)" };
      }
    } catch (err) {
      // fall through to the track items
    }
  }
  return { timeline: await sequenceToOtio(ppro, sequence), route: "track items" };
}

module.exports = { TICKS_PER_SECOND, sequenceToOtio, readTimeline };
