// End to end without Premiere: the panel's code, the premierepro stand-in, Node's WebSocket (node >= 20.10 with
// --experimental-websocket, built in from 22) and a real 'emoguide serve' named by a connection file.
//   node --experimental-websocket plugins/premiere/e2e/run_against_engine.js ~/.config/emoguide/connection.json
"use strict";

const fs = require("node:fs");
const ppro = require("../test/premierepro-standin.js");
const { EngineClient } = require("../lib/client.js");
const { analyseActiveSequence } = require("../lib/panel.js");
const colours = require("../lib/colours.js");

async function main() {
  const connection = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const sequence = new ppro.__Sequence("e2e", 25, [[
    { name: "a", startFrame: 0, endFrame: 125, inFrame: 10, path: "/media/a.mov" },
    { name: "b", startFrame: 150, endFrame: 200, inFrame: 0, path: "/media/b.mov" },
  ]], []);
  ppro.Project.active = new ppro.__Project(sequence);
  const client = new EngineClient(connection, { timeoutMs: 5000, statusIntervalMs: 500 });
  const first = await analyseActiveSequence({ ppro, client, colours, io: null });
  const second = await analyseActiveSequence({ ppro, client, colours, io: null });
  client.close();
  const markers = (await (await ppro.Markers.getMarkers(sequence)).getMarkers()).map((m) => ({
    name: m.getName(), ticks: m.getStart().ticks, colour: m.getColorIndex(), comments: m.getComments(),
  }));
  console.log("EMOGUIDE_RESULT " + JSON.stringify({ first, second, markers }));
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
