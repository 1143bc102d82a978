// The engine protocol (docs/protocol.md) over the WebSocket bridge: each message is a JSON array of frames,
// ["<EMG|MSG>", signature, header, content] for requests/replies, [topic, ...the same] for job events.
"use strict";

const { hmacSha256Hex } = require("./sha256.js");

const PROTOCOL_VERSION = 1;
const DELIMITER = "<EMG|MSG>";
const MARKER_TAG = "[emoguide:"; // our marker ids live in the marker comments: "...\n[emoguide:V1/0:emotion:2]"

function newId() {
  let id = "";
  for (let i = 0; i < 32; i++) id += Math.floor(Math.random() * 16).toString(16);
  return id;
}

function encode(key, type, content, session) {
  const header = { v: PROTOCOL_VERSION, msg_id: newId(), type, session, date: new Date().toISOString() };
  const h = JSON.stringify(header);
  const c = JSON.stringify(content);
  return { frames: [DELIMITER, hmacSha256Hex(key, h, c), h, c], msgId: header.msg_id };
}

function constantTimeEqual(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

// Verified {topic, type, header, content}; throws on anything unsigned, forged or malformed.
function decode(key, frames) {
  if (!Array.isArray(frames)) throw new Error("malformed message from the engine");
  const at = frames.indexOf(DELIMITER);
  if (at < 0 || frames.length - at !== 4) throw new Error("malformed message from the engine");
  const [signature, h, c] = frames.slice(at + 1);
  if (!constantTimeEqual(String(signature), hmacSha256Hex(key, h, c))) {
    throw new Error("message with a bad signature: is the connection file from this engine?");
  }
  const header = JSON.parse(h);
  return { topic: at === 1 ? frames[0] : null, type: header.type, header, content: JSON.parse(c) };
}

module.exports = { PROTOCOL_VERSION, DELIMITER, MARKER_TAG, encode, decode, newId };
