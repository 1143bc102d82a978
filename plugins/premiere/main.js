// UXP entry point: wires the panel's buttons to lib/panel.js. Only this file touches `uxp` and the DOM.
"use strict";

const ppro = require("premierepro");
const uxp = require("uxp");
const { EngineClient } = require("./lib/client.js");
const { analyseActiveSequence } = require("./lib/panel.js");
const colours = require("./lib/colours.js");

const fs = uxp.storage.localFileSystem;
let client = null;
let running = null;

function log(text) {
  document.getElementById("status").textContent = text;
}

// The connection file (ports + key) written by 'emoguide serve'; picked once, remembered by the panel.
async function connection(forcePick) {
  let text = forcePick ? null : localStorage.getItem("emoguide.connection");
  if (!text) {
    const file = await fs.getFileForOpening({ types: ["json"] });
    if (!file) throw new Error("Pick ~/.config/emoguide/connection.json (written by 'emoguide serve').");
    text = await file.read();
    localStorage.setItem("emoguide.connection", text);
  }
  return JSON.parse(text);
}

const io = {
  tempPath: (name) => `plugin-temp:/${name}`,
  readText: async (path) => (await fs.getEntryWithUrl(path)).read(),
};

async function analyse() {
  try {
    client = client || new EngineClient(await connection(false));
    running = analyseActiveSequence({ ppro, client, colours, io, log });
    await running;
  } catch (err) {
    log(err.message || String(err));
    if (client) client.close();
    client = null;
  } finally {
    running = null;
  }
}

document.getElementById("analyse").addEventListener("click", analyse);
document.getElementById("connect").addEventListener("click", async () => {
  try {
    client = new EngineClient(await connection(true));
    const info = await client.ping();
    log(`Engine ${info.emoguide_version} ready (${info.engine.engine}).`);
  } catch (err) {
    log(err.message || String(err));
  }
});
