// The call view: getUserMedia, one RTCPeerConnection per remote peer (mesh), the newcomer
// offers. Speaks the signalling protocol of PROTOCOL.md section 2.
import { el } from "/static/api.js";

const GATHER_TIMEOUT_MS = 3000;
const PING_MS = 3000; // a hub closes a session it has not heard from for 10 s
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 4000;
const STILL_MS = 2500; // no new video frame for this long: the camera is off, or frozen
const MUTED_MS = 1500; // no sound energy at all for this long: muted, or no microphone

export class Call {
  // `leftText`: said when the last other person left; `audioFallback`: without a camera
  // (refused or missing), join with the microphone alone
  constructor(container, { onEnd, aloneText = "Waiting for others to join…", leftText,
                           audioFallback = false } = {}) {
    this.container = container;
    this.onEnd = onEnd;
    this.aloneText = aloneText;
    this.leftText = leftText || aloneText;
    this.audioFallback = audioFallback;
    this.peers = new Map(); // peer_id -> {pc, tile, name}
    this.iceServers = [];
    this.stream = null;
    this.ws = null;
  }

  // `refresh` gives a fresh grant for a rejoin after the signalling socket dropped
  // (PROTOCOL.md section 6); without it the first grant is used again.
  // `stream`: what a check before joining already opened (else the camera and microphone
  // are asked for here)
  async join(grant, name, { refresh, stream } = {}) {
    this.stream = stream || await this.media();
    this.render(name, grant.room_name);
    if (!this.stream.getVideoTracks().length) this.camera.hidden = true;
    this.addTile("local", `${name} (you)`, this.stream, true);
    this.name = name;
    this.refresh = refresh || (async () => grant);
    this.ended = false;
    this.connect(grant, null);
    this.keepalive = setInterval(() => this.send({ type: "ping" }), PING_MS);
    this.watcher = setInterval(() => this.watchVideo(), 1000);
  }

  // A remote picture that stopped (a camera turned off, a frozen peer) is marked as such,
  // not left as its last frame.
  // A muted participant (a browser, or the box) sends digital silence or no sound: their
  // decoded audio has no energy at all, which a live microphone never has.
  async watchVideo() {
    const now = Date.now();
    for (const entry of this.peers.values()) {
      let frames = 0;
      let energy = 0;
      (await entry.pc.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded || 0;
        if (s.type === "inbound-rtp" && s.kind === "audio") energy += s.totalAudioEnergy || 0;
      });
      if (frames !== entry.frames) { entry.frames = frames; entry.movedAt = now; }
      if (energy !== entry.energy) { entry.energy = energy; entry.heardAt = now; }
      const connected = entry.pc.connectionState === "connected";
      const still = connected && now - (entry.movedAt || now) > STILL_MS;
      const muted = connected && now - (entry.heardAt || now) > MUTED_MS;
      entry.tile.classList.toggle("still", still);
      entry.badge.textContent = [muted && "Muted", still && "Camera off"].filter(Boolean).join(" · ");
    }
  }

  notice(text) { if (this.notices) this.notices.textContent = text; }

  async media() {
    try {
      return await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    } catch (e) {
      if (!this.audioFallback) throw e;
      return navigator.mediaDevices.getUserMedia({ audio: true, video: false });
    }
  }

  connect({ token, signal_url }, resume) {
    const ws = new WebSocket(signal_url);
    this.ws = ws;
    ws.onopen = () => this.send(resume ? { type: "join", token, name: this.name, resume }
                                       : { type: "join", token, name: this.name });
    ws.onmessage = (event) => this.onMessage(JSON.parse(event.data));
    ws.onclose = () => { if (this.ws === ws && !this.ended) this.reconnect(); };
  }

  // The call goes on peer to peer; signalling comes back with the same peer id.
  async reconnect(delay = RECONNECT_MIN_MS) {
    this.status("Reconnecting…");
    this.ws = null;
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (this.ended) return;
    try {
      const grant = await this.refresh();
      this.connect(grant, this.peerId ? { peer_id: this.peerId, resume_key: this.resumeKey } : null);
    } catch (e) {
      this.reconnect(Math.min(delay * 2, RECONNECT_MAX_MS));
    }
  }

  live(entry) {
    return entry && ["new", "connecting", "connected"].includes(entry.pc.connectionState);
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  async onMessage(msg) {
    switch (msg.type) {
      case "joined": {
        const rejoined = this.peerId !== undefined;
        this.peerId = msg.peer_id;
        this.resumeKey = msg.resume_key;
        this.iceServers = msg.ice_servers || [];
        const kept = msg.peers.filter((peer) => this.live(this.peers.get(peer.peer_id)));
        if (rejoined) this.status(kept.length ? "In call" : "Connecting…");
        else this.status(msg.peers.length ? "Connecting…" : this.aloneText);
        for (const peer of msg.peers) {
          if (kept.includes(peer)) continue; // media never stopped: no new offer
          this.drop(peer.peer_id);
          await this.offerTo(peer);
        }
        break;
      }
      case "peer_joined":
        if (!this.live(this.peers.get(msg.peer.peer_id))) this.notice(`${msg.peer.name || "Someone"} joined`);
        this.ensurePeer(msg.peer);
        this.status("Connecting…");
        break;
      case "offer": {
        const entry = this.ensurePeer({ peer_id: msg.from, name: "", role: "" });
        await entry.pc.setRemoteDescription({ type: "offer", sdp: msg.sdp });
        await entry.pc.setLocalDescription(await entry.pc.createAnswer());
        await this.gathered(entry.pc);
        this.send({ type: "answer", to: msg.from, sdp: entry.pc.localDescription.sdp });
        break;
      }
      case "answer":
        await this.peers.get(msg.from)?.pc.setRemoteDescription({ type: "answer", sdp: msg.sdp });
        break;
      case "candidate":
        if (msg.candidate) await this.peers.get(msg.from)?.pc.addIceCandidate(msg.candidate);
        break;
      case "peer_left":
        this.notice(`${this.peers.get(msg.peer_id)?.label.textContent || "Someone"} left`);
        this.drop(msg.peer_id);
        break;
      case "error":
        if (this.peerId === undefined && /in use/.test(msg.message)) {
          this.ws?.close(); // a reload, before the old page's session has closed: again
          break;
        }
        this.status(`Error: ${msg.message}`);
        break;
    }
  }

  ensurePeer(peer) {
    let entry = this.peers.get(peer.peer_id);
    if (entry) {
      if (peer.name && entry.label.textContent === "") entry.label.textContent = peer.name;
      return entry;
    }
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    let videoSender = null;
    for (const track of this.stream.getTracks()) {
      const sender = pc.addTrack(track, this.stream);
      if (track.kind === "video") videoSender = sender;
    }
    if (this.cameraOff) videoSender?.replaceTrack(null);
    const tile = this.addTile(peer.peer_id, peer.name, null, false);
    pc.ontrack = (event) => {
      const video = tile.querySelector("video");
      if (video.srcObject !== event.streams[0]) video.srcObject = event.streams[0];
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected") this.status("In call");
    };
    const badge = el("span", { class: "badge" });
    tile.append(badge);
    entry = { pc, tile, badge, videoSender, label: tile.querySelector(".name"), name: peer.name,
              role: peer.role, movedAt: Date.now() };
    this.peers.set(peer.peer_id, entry);
    return entry;
  }

  async offerTo(peer) {
    const entry = this.ensurePeer(peer);
    await entry.pc.setLocalDescription(await entry.pc.createOffer());
    await this.gathered(entry.pc);
    this.send({ type: "offer", to: peer.peer_id, sdp: entry.pc.localDescription.sdp });
  }

  // aiortc does not trickle: send complete descriptions, candidates included
  gathered(pc) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, GATHER_TIMEOUT_MS);
    });
  }

  drop(peerId) {
    const entry = this.peers.get(peerId);
    if (!entry) return;
    entry.pc.close();
    entry.tile.remove();
    this.peers.delete(peerId);
    if (this.peers.size === 0) this.status(this.leftText);
  }

  render(name, roomName) {
    this.container.replaceChildren();
    const title = el("h2", { id: "call-room" }, roomName || "Call");
    // read out by screen readers as it changes
    this.statusLine = el("p", { class: "muted", id: "call-status", role: "status" }, "Joining…");
    this.notices = el("p", { class: "muted", id: "call-notices", "aria-live": "polite" });
    this.mute = el("button", { class: "secondary", id: "mute", "aria-pressed": "false",
                               onclick: () => this.toggle("audio", this.mute) }, "Mute");
    this.camera = el("button", { class: "secondary", id: "camera", "aria-pressed": "false",
                                 onclick: () => this.toggle("video", this.camera) }, "Turn camera off");
    const leave = el("button", { class: "danger", id: "leave", onclick: () => this.leave() }, "Leave");
    this.videos = el("div", { class: "videos" });
    this.container.append(title, this.statusLine, this.notices,
      el("div", { class: "controls" }, this.mute, this.camera, leave), this.videos);
    this.container.classList.add("active");
  }

  addTile(id, name, stream, muted) {
    const video = el("video", { autoplay: "", playsinline: "" });
    video.muted = muted;
    if (stream) video.srcObject = stream;
    const tile = el("div", { class: id === "local" ? "tile self" : "tile", "data-peer": id }, video,
                    el("span", { class: "name" }, name || ""));
    this.videos.append(tile);
    return tile;
  }

  toggle(kind, button) {
    const tracks = kind === "audio" ? this.stream.getAudioTracks() : this.stream.getVideoTracks();
    const off = button.getAttribute("aria-pressed") !== "true";
    for (const track of tracks) track.enabled = !off;
    if (kind === "video") {
      // a disabled track still sends black frames; nothing at all is what others see as
      // "camera off" (and what the box does)
      this.cameraOff = off;
      for (const entry of this.peers.values()) entry.videoSender?.replaceTrack(off ? null : tracks[0]);
    }
    button.setAttribute("aria-pressed", String(off));
    // the label says what a press does next
    if (kind === "audio") button.textContent = off ? "Unmute" : "Mute";
    else button.textContent = off ? "Start camera" : "Turn camera off";
  }

  status(text) { if (this.statusLine) this.statusLine.textContent = text; }

  leave() {
    this.ended = true;
    this.send({ type: "leave" });
    clearInterval(this.keepalive);
    clearInterval(this.watcher);
    for (const id of [...this.peers.keys()]) this.drop(id);
    this.ws?.close();
    this.stream?.getTracks().forEach((t) => t.stop());
    this.container.classList.remove("active");
    this.container.replaceChildren();
    this.onEnd?.();
  }

  // For people and tests alike: what each remote peer's media looks like.
  async stats() {
    const out = [];
    for (const [peerId, entry] of this.peers) {
      let video = 0, audio = 0;
      (await entry.pc.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp" && s.kind === "video") video += s.framesDecoded || 0;
        if (s.type === "inbound-rtp" && s.kind === "audio") audio += s.packetsReceived || 0;
      });
      out.push({ peer_id: peerId, name: entry.label.textContent, video_frames_decoded: video,
                 audio_packets_received: audio, state: entry.pc.connectionState });
    }
    return out;
  }
}

// One call per page; exposed for the status line and automated tests.
export function mountCall(container, options) {
  const call = new Call(container, options);
  window.currentCall = call;
  window.callStats = () => (window.currentCall ? window.currentCall.stats() : []);
  return call;
}
