// Engine markers → Premiere sequence markers, inside lockedAccess/executeTransaction (undoable, one step).
// Times in ticks (254016000000 per second); colours by index from the shared table; our id at the end of the
// comments so a re-run removes exactly our markers and never the editor's.
"use strict";

const { MARKER_TAG } = require("./protocol.js");
const { TICKS_PER_SECOND } = require("./sequence.js");

function ticks(ppro, seconds) {
  return ppro.TickTime.createWithTicks(String(Math.round(seconds * TICKS_PER_SECOND)));
}

function ourId(comments) {
  const text = String(comments || "");
  const at = text.lastIndexOf(MARKER_TAG);
  if (at < 0) return null;
  const end = text.indexOf("]", at);
  return end < 0 ? null : text.slice(at + MARKER_TAG.length, end);
}

function colourIndex(colours, key) {
  return (colours[key] || colours.neutral).premiere;
}

async function placeMarkers(ppro, project, sequence, markers, colours) {
  const owner = await ppro.Markers.getMarkers(sequence);
  const ours = (await owner.getMarkers()).filter((m) => ourId(m.getComments()) !== null);
  let ok = false;
  project.lockedAccess(() => {
    ok = project.executeTransaction((compound) => {
      for (const m of ours) compound.addAction(owner.createRemoveMarkerAction(m));
      for (const m of markers) {
        compound.addAction(owner.createAddMarkerAction(m.name, ppro.Marker.MARKER_TYPE_COMMENT, ticks(ppro, m.start_s),
          ticks(ppro, m.duration_s), `${m.note}\n${MARKER_TAG}${m.id}]`));
      }
    }, "emoguide: emotion markers");
  });
  if (!ok) throw new Error("Premiere refused to add the markers (is the sequence locked?)");
  // New markers exist only after their transaction: colour them in a second one.
  const byId = new Map(markers.map((m) => [m.id, m]));
  const placed = (await owner.getMarkers()).filter((m) => byId.has(ourId(m.getComments())));
  project.lockedAccess(() => {
    project.executeTransaction((compound) => {
      for (const marker of placed) {
        compound.addAction(marker.createSetColorByIndexAction(colourIndex(colours, byId.get(ourId(marker.getComments())).colour_key)));
      }
    }, "emoguide: marker colours");
  });
  return { placed: placed.length, removed: ours.length };
}

module.exports = { placeMarkers, ourId, colourIndex, ticks };
