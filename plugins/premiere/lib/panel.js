// What the Analyse button does, host-agnostic enough to test: sequence → engine → markers.
"use strict";

const { readTimeline } = require("./sequence.js");
const { placeMarkers } = require("./markers.js");

async function analyseActiveSequence({ ppro, client, colours, io, log = () => {} }) {
  const project = await ppro.Project.getActiveProject();
  if (!project) throw new Error("Open a project first.");
  const sequence = await project.getActiveSequence();
  if (!sequence) throw new Error("Open the sequence to analyse first.");
  const { timeline, route } = await readTimeline(ppro, sequence, io);
  log(`Sending '${sequence.name}' (${route}) to the engine…`);
  const jobId = await client.analyze(timeline);
  const result = await client.wait(jobId, (p) => log(`${p.stage} ${p.done}/${p.total} ${p.clip_id || ""}`));
  const counts = await placeMarkers(ppro, project, sequence, result.markers, colours);
  log(`${counts.placed} markers placed${result.partial ? " (some clips offline: see their markers)" : ""}.`);
  return { jobId, route, ...counts, partial: !!result.partial };
}

module.exports = { analyseActiveSequence };
