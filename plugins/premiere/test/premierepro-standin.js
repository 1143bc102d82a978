// A stand-in for the `premierepro` UXP module, following Adobe's documented API (ppro_reference: Project,
// Sequence, VideoTrack/AudioTrack.getTrackItems, VideoClipTrackItem, ClipProjectItem, Markers, Marker, TickTime,
// Constants). It is strict where Premiere is: transactions only inside lockedAccess, actions only inside a
// transaction, TickTime.createWithTicks takes a string, marker colour indexes 0-7, markers read back only after
// their transaction ran.
"use strict";

const TICKS_PER_SECOND = 254016000000;

class TickTime {
  constructor(ticks) { this._ticks = BigInt(ticks); }
  static createWithTicks(ticks) {
    if (typeof ticks !== "string") throw new TypeError("createWithTicks expects a string");
    return new TickTime(ticks);
  }
  static createWithSeconds(seconds) { return new TickTime(Math.round(seconds * TICKS_PER_SECOND)); }
  get ticks() { return this._ticks.toString(); }
  get ticksNumber() { return Number(this._ticks); }
  get seconds() { return Number(this._ticks) / TICKS_PER_SECOND; }
}
TickTime.TIME_ZERO = new TickTime(0);

let lockDepth = 0;
let inTransaction = false;
const transactions = [];

function action(apply) {
  return { __action: true, apply };
}

class Marker {
  constructor(name, type, start, duration, comments) {
    Object.assign(this, { name, type, start, duration, comments, colorIndex: 0 });
  }
  getName() { return this.name; }
  getComments() { return this.comments; }
  getStart() { return this.start; }
  getDuration() { return this.duration; }
  getType() { return this.type; }
  getColorIndex() { return this.colorIndex; }
  createSetColorByIndexAction(index) {
    if (!Number.isInteger(index) || index < 0 || index > 7) throw new RangeError(`bad colour index ${index}`);
    return action(() => { this.colorIndex = index; });
  }
}
Marker.MARKER_TYPE_COMMENT = "Comment";
Marker.MARKER_TYPE_CHAPTER = "Chapter";

class Markers {
  constructor() { this.list = []; }
  static async getMarkers(owner) { return owner.__markers; }
  async getMarkers() { return [...this.list].sort((a, b) => a.start.ticksNumber - b.start.ticksNumber); }
  createAddMarkerAction(name, markerType, startTime, duration, comments) {
    if (typeof name !== "string" || typeof comments !== "string") throw new TypeError("name and comments are strings");
    if (!(startTime instanceof TickTime) || !(duration instanceof TickTime)) throw new TypeError("times are TickTime");
    if (![Marker.MARKER_TYPE_COMMENT, Marker.MARKER_TYPE_CHAPTER].includes(markerType)) throw new TypeError("marker type");
    return action(() => this.list.push(new Marker(name, markerType, startTime, duration, comments)));
  }
  createRemoveMarkerAction(marker) {
    return action(() => {
      const at = this.list.indexOf(marker);
      if (at < 0) throw new Error("marker not in this collection");
      this.list.splice(at, 1);
    });
  }
}

class TrackItem {
  constructor({ name, startFrame, endFrame, inFrame, path }, timebase) {
    Object.assign(this, { name, path, tb: BigInt(timebase) });
    this.start = new TickTime(BigInt(startFrame) * this.tb);
    this.end = new TickTime(BigInt(endFrame) * this.tb);
    this.inPoint = new TickTime(BigInt(inFrame) * this.tb);
  }
  async getName() { return this.name; }
  async getStartTime() { return this.start; }
  async getEndTime() { return this.end; }
  async getInPoint() { return this.inPoint; }
  async getProjectItem() { return { __path: this.path, name: this.name }; }
}

class Track {
  constructor(items) { this.items = items; }
  getTrackItems(type, includeEmpty) {
    if (type !== Constants.TrackItemType.CLIP || includeEmpty !== false) throw new Error("unexpected query");
    return this.items;
  }
}

class Sequence {
  constructor(name, fps, video, audio) {
    this.name = name;
    this.timebase = String(TICKS_PER_SECOND / fps);
    this.video = video.map((items) => new Track(items.map((i) => new TrackItem(i, this.timebase))));
    this.audio = audio.map((items) => new Track(items.map((i) => new TrackItem(i, this.timebase))));
    this.__markers = new Markers();
  }
  async getTimebase() { return this.timebase; }
  async getVideoTrackCount() { return this.video.length; }
  async getAudioTrackCount() { return this.audio.length; }
  async getVideoTrack(i) { return this.video[i]; }
  async getAudioTrack(i) { return this.audio[i]; }
}

class ProjectImpl {
  constructor(sequence) { this.sequence = sequence; }
  async getActiveSequence() { return this.sequence; }
  lockedAccess(callback) {
    lockDepth += 1;
    try { callback(); } finally { lockDepth -= 1; }
  }
  executeTransaction(callback, undoString) {
    if (lockDepth === 0) throw new Error("executeTransaction outside lockedAccess");
    const actions = [];
    inTransaction = true;
    try {
      callback({ addAction: (a) => { if (!a || !a.__action) throw new TypeError("not an Action"); actions.push(a); } });
    } finally { inTransaction = false; }
    for (const a of actions) a.apply();
    transactions.push({ undoString, actions: actions.length });
    return true;
  }
}

const Constants = { TrackItemType: { EMPTY: 0, CLIP: 1, TRANSITION: 2 } };

const standin = {
  TickTime, Marker, Markers, Constants,
  ClipProjectItem: { cast: (item) => (item ? { getMediaFilePath: async () => item.__path } : null) },
  Project: { active: null, getActiveProject: async () => standin.Project.active },
  // test helpers
  __Sequence: Sequence, __Project: ProjectImpl, __transactions: transactions,
  __reset() { transactions.length = 0; },
};

module.exports = standin;
