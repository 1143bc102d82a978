// node --test plugins/premiere/test/ : the panel's logic against the premierepro stand-in.
"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");

const ppro = require("./premierepro-standin.js");
const { sha256, hmacSha256Hex, hex, utf8 } = require("../lib/sha256.js");
const protocol = require("../lib/protocol.js");
const { sequenceToOtio, readTimeline, TICKS_PER_SECOND } = require("../lib/sequence.js");
const { placeMarkers, ourId } = require("../lib/markers.js");
const { EngineClient } = require("../lib/client.js");
const { analyseActiveSequence } = require("../lib/panel.js");
const colours = require("../lib/colours.js");

const FPS = 25;

function makeSequence() {
  return new ppro.__Sequence("Scene 3", FPS, [[
    { name: "a", startFrame: 0, endFrame: 100, inFrame: 12, path: "/media/a.mov" },
    { name: "b", startFrame: 125, endFrame: 200, inFrame: 0, path: "/media/b.mov" },
  ]], [[{ name: "a", startFrame: 0, endFrame: 100, inFrame: 12, path: "/media/a.mov" }]]);
}

const MARKERS = [
  { id: "V1/0:emotion:0", kind: "emotion", colour_key: "happy", name: "happy 88%", note: "detail", start_s: 0.48, duration_s: 2.0 },
  { id: "V1/0:mixed:0", kind: "mixed_signals", colour_key: "mixed_signals", name: "mixed", note: "x", start_s: 2.5, duration_s: 1 },
  { id: "V1/2:status", kind: "media_offline", colour_key: "media_offline", name: "⚠ media offline", note: "b", start_s: 5, duration_s: 3 },
];

test("sha256 and hmac match node's crypto", () => {
  for (const text of ["", "abc", "é✓ unicode", "x".repeat(1000)]) {
    assert.equal(hex(sha256(utf8(text))), crypto.createHash("sha256").update(text).digest("hex"));
    for (const key of ["k", "k".repeat(64), "long-key".repeat(20)]) {
      const expected = crypto.createHmac("sha256", key).update("{\"h\":1}").update(text).digest("hex");
      assert.equal(hmacSha256Hex(key, "{\"h\":1}", text), expected);
    }
  }
});

test("protocol frames are signed like the engine signs them and forgeries are refused", () => {
  const { frames } = protocol.encode("secret", "ping", { a: "é" }, "sess");
  assert.equal(frames[0], "<EMG|MSG>");
  assert.equal(frames[1], crypto.createHmac("sha256", "secret").update(frames[2]).update(frames[3]).digest("hex"));
  assert.equal(protocol.decode("secret", frames).content.a, "é");
  assert.throws(() => protocol.decode("other", frames), /bad signature/);
  const event = ["job.1", ...frames];
  assert.equal(protocol.decode("secret", event).topic, "job.1");
});

test("the sequence becomes OTIO JSON with frames at the sequence rate", async () => {
  const otio = await sequenceToOtio(ppro, makeSequence());
  assert.equal(otio.tracks.children.length, 2);
  const [video, audio] = otio.tracks.children;
  assert.deepEqual(video.children.map((c) => c.OTIO_SCHEMA), ["Clip.2", "Gap.1", "Clip.2"]);
  assert.equal(video.children[0].source_range.start_time.value, 12);
  assert.equal(video.children[0].source_range.duration.value, 100);
  assert.equal(video.children[0].source_range.start_time.rate, FPS);
  assert.equal(video.children[1].source_range.duration.value, 25);
  assert.equal(video.children[0].media_references.DEFAULT_MEDIA.target_url, "/media/a.mov");
  assert.equal(audio.kind, "Audio");
  const viaExport = await readTimeline({ ...ppro, ProjectConverter: { exportAsOpenTimelineIO: async () => true } },
    makeSequence(), { tempPath: (n) => `/tmp/${n}`, readText: async () => JSON.stringify({ OTIO_SCHEMA: "Timeline.1", name: "x" }) });
  assert.equal(viaExport.route, "ProjectConverter (OTIO)");
  const fallback = await readTimeline(ppro, makeSequence(), null);
  assert.equal(fallback.route, "track items");
});

test("markers land in ticks, coloured from the shared table, and a re-run replaces only ours", async () => {
  const sequence = makeSequence();
  const project = new ppro.__Project(sequence);
  const owner = await ppro.Markers.getMarkers(sequence);
  project.lockedAccess(() => project.executeTransaction((c) => c.addAction(owner.createAddMarkerAction(
    "editor", ppro.Marker.MARKER_TYPE_COMMENT, ppro.TickTime.createWithSeconds(1), ppro.TickTime.TIME_ZERO, "mine"))));
  const first = await placeMarkers(ppro, project, sequence, MARKERS, colours);
  assert.deepEqual(first, { placed: 3, removed: 0 });
  const second = await placeMarkers(ppro, project, sequence, MARKERS, colours);
  assert.deepEqual(second, { placed: 3, removed: 3 });
  const all = await owner.getMarkers();
  assert.equal(all.length, 4);
  assert.equal(all.filter((m) => ourId(m.getComments()) === null)[0].getName(), "editor");
  const happy = all.find((m) => ourId(m.getComments()) === "V1/0:emotion:0");
  assert.equal(happy.getStart().ticks, String(Math.round(0.48 * TICKS_PER_SECOND)));
  assert.equal(happy.getDuration().ticks, String(2 * TICKS_PER_SECOND));
  assert.equal(happy.getColorIndex(), colours.happy.premiere);
  assert.equal(all.find((m) => ourId(m.getComments()) === "V1/2:status").getColorIndex(), colours.media_offline.premiere);
  assert.ok(happy.getComments().startsWith("detail\n[emoguide:"));
  assert.throws(() => project.executeTransaction(() => {}), /outside lockedAccess/);
});

// An in-memory engine behind a fake WebSocket: verifies signatures with node's crypto, answers like the bridge.
function fakeEngine(key, { result, dropAfterAnalyze = false } = {}) {
  const sign = (h, c) => crypto.createHmac("sha256", key).update(h).update(c).digest("hex");
  const frame = (type, content, replyTo, topic) => {
    const h = JSON.stringify({ v: 1, msg_id: protocol.newId(), type, session: "engine", reply_to: replyTo });
    const c = JSON.stringify(content);
    return JSON.stringify([...(topic ? [topic] : []), "<EMG|MSG>", sign(h, c), h, c]);
  };
  return class FakeSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      setTimeout(() => { this.readyState = 1; this.onopen && this.onopen(); }, 1);
    }
    send(text) {
      const [, sig, h, c] = JSON.parse(text);
      assert.equal(sig, sign(h, c), "panel sent a badly signed message");
      const header = JSON.parse(h);
      const content = JSON.parse(c);
      const reply = (body) => setTimeout(() => this.onmessage({ data: frame(`${header.type}_reply`, body, header.msg_id) }), 1);
      if (header.type === "analyze") {
        assert.equal(content.timeline.OTIO_SCHEMA, "Timeline.1");
        reply({ ok: true, job_id: "j1", state: "queued", topic: "job.j1" });
        if (dropAfterAnalyze) return setTimeout(() => { this.readyState = 3; this.onclose && this.onclose(); }, 5);
        setTimeout(() => this.onmessage({ data: frame("progress", { job_id: "j1", stage: "decode", done: 1, total: 2 }, null, "job.j1") }), 3);
        setTimeout(() => this.onmessage({ data: frame("result", { job_id: "j1", state: "done", result }, null, "job.j1") }), 6);
      } else if (header.type === "status") {
        reply({ ok: true, job_id: content.job_id, state: "running" });
      } else {
        reply({ ok: true, emoguide_version: "0.1.0", engine: { engine: "ready" } });
      }
      return undefined;
    }
    close() { this.readyState = 3; }
  };
}

test("the Analyse button: sequence → engine → coloured markers", async () => {
  const sequence = makeSequence();
  ppro.Project.active = new ppro.__Project(sequence);
  const client = new EngineClient({ key: "k", ws_port: 47112 }, { WebSocketImpl: fakeEngine("k", { result: { markers: MARKERS, partial: true } }) });
  const lines = [];
  const out = await analyseActiveSequence({ ppro, client, colours, io: null, log: (l) => lines.push(l) });
  assert.deepEqual(out, { jobId: "j1", route: "track items", placed: 3, removed: 0, partial: true });
  assert.ok(lines.some((l) => l.startsWith("decode 1/2")));
  client.close();
});

test("engine gone while waiting, or never there: a clear error, no hang", async () => {
  ppro.Project.active = new ppro.__Project(makeSequence());
  const dropped = new EngineClient({ key: "k", ws_port: 1 }, { WebSocketImpl: fakeEngine("k", { dropAfterAnalyze: true }), timeoutMs: 500 });
  await assert.rejects(analyseActiveSequence({ ppro, client: dropped, colours, io: null }), /emoguide serve/);
  class Refused { constructor() { setTimeout(() => this.onerror && this.onerror(new Error("ECONNREFUSED")), 1); } close() {} }
  const absent = new EngineClient({ key: "k", ws_port: 1 }, { WebSocketImpl: Refused, timeoutMs: 500 });
  const t0 = Date.now();
  await assert.rejects(absent.ping(), (err) => err.code === "engine_unavailable");
  assert.ok(Date.now() - t0 < 1000);
});
