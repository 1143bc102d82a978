// A client of the engine's WebSocket bridge: requests with timeouts, job events, a clear error when the
// engine is not there (never a silent hang). `WebSocketImpl` is injectable for tests; UXP has a global one.
"use strict";

const { encode, decode, newId } = require("./protocol.js");

class EngineError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const UNAVAILABLE = "The emoguide engine is not answering. Start it with 'emoguide serve' (same machine), then try again.";

class EngineClient {
  constructor(connection, { WebSocketImpl, timeoutMs = 10000, statusIntervalMs = 2000 } = {}) {
    this.key = connection.key;
    this.url = `ws://127.0.0.1:${connection.ws_port}`;
    this.WebSocketImpl = WebSocketImpl || globalThis.WebSocket;
    this.timeoutMs = timeoutMs;
    this.statusIntervalMs = statusIntervalMs;
    this.session = newId();
    this.pending = new Map(); // msg_id -> {resolve, reject, timer}
    this.listeners = new Map(); // job_id -> callback(event)
    this.ws = null;
  }

  connect() {
    if (this.ws && this.ws.readyState === 1) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new this.WebSocketImpl(this.url);
      } catch (err) {
        reject(new EngineError("engine_unavailable", UNAVAILABLE));
        return;
      }
      const timer = setTimeout(() => {
        try { ws.close(); } catch (e) { /* already closed */ }
        reject(new EngineError("engine_unavailable", UNAVAILABLE));
      }, this.timeoutMs);
      ws.onopen = () => { clearTimeout(timer); this.ws = ws; resolve(); };
      ws.onerror = () => { clearTimeout(timer); reject(new EngineError("engine_unavailable", UNAVAILABLE)); };
      ws.onclose = () => this._lost();
      ws.onmessage = (event) => this._receive(event.data);
    });
  }

  _lost() {
    this.ws = null;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new EngineError("engine_unavailable", UNAVAILABLE));
      this.pending.delete(id);
    }
    for (const [, cb] of this.listeners) cb({ type: "lost" });
  }

  _receive(text) {
    let msg;
    try {
      msg = decode(this.key, JSON.parse(text));
    } catch (err) {
      return; // unsigned or malformed: ignored, never trusted
    }
    if (msg.topic) {
      const cb = this.listeners.get(msg.topic.slice(4));
      if (cb) cb({ ...msg.content, type: msg.type });
      return;
    }
    const p = this.pending.get(msg.header.reply_to) || (msg.header.reply_to ? null : this.pending.values().next().value);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(p.msgId);
    if (msg.content.ok === false) {
      const err = msg.content.error || {};
      p.reject(new EngineError(err.code || "internal", err.message || "engine error"));
    } else {
      p.resolve(msg.content);
    }
  }

  async request(type, content = {}, timeoutMs = this.timeoutMs) {
    await this.connect();
    const { frames, msgId } = encode(this.key, type, content, this.session);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(msgId);
        reject(new EngineError("engine_unavailable", UNAVAILABLE));
      }, timeoutMs);
      this.pending.set(msgId, { resolve, reject, timer, msgId });
      this.ws.send(JSON.stringify(frames));
    });
  }

  ping() { return this.request("ping", {}); }

  async analyze(timeline, options) {
    const content = options ? { timeline, options } : { timeline };
    return (await this.request("analyze", content)).job_id;
  }

  cancel(jobId) { return this.request("cancel", { job_id: jobId }); }

  status(jobId) { return this.request("status", { job_id: jobId }); }

  // Resolves with the job's result; rejects with EngineError (failed, cancelled, engine gone, unknown job).
  wait(jobId, onProgress) {
    return new Promise((resolve, reject) => {
      let done = false;
      let timer = null;
      const finish = (fn, value) => {
        if (done) return;
        done = true;
        clearInterval(timer);
        this.listeners.delete(jobId);
        fn(value);
      };
      const handle = (event) => {
        if (event.type === "lost") return finish(reject, new EngineError("engine_unavailable", UNAVAILABLE));
        if (event.type === "progress" && onProgress) onProgress(event);
        if (event.type === "result") return finish(resolve, event.result);
        if (event.type === "state" || event.state) {
          if (event.state === "done" && event.result) return finish(resolve, event.result);
          if (event.state === "failed" || event.state === "cancelled") {
            const err = event.error || {};
            return finish(reject, new EngineError(err.code || event.state, err.message || `analysis ${event.state}`));
          }
        }
        return undefined;
      };
      this.listeners.set(jobId, handle);
      const poll = () => this.status(jobId).then((s) => handle({ ...s, type: "state" }), (err) => finish(reject, err));
      timer = setInterval(poll, this.statusIntervalMs);
      poll();
    });
  }

  close() {
    if (this.ws) this.ws.close();
    this.ws = null;
  }
}

module.exports = { EngineClient, EngineError, UNAVAILABLE };
