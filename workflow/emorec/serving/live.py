"""The live page of ``emorec serve``: emotion from the browser's camera and microphone.

The page (``GET /live``) samples the camera at up to 8 frames per second and posts each frame
as a JPEG to ``/live/frame``: every face in it comes back with its box and class
probabilities, found and cropped as ``emorec predict`` finds them. The microphone's last 3 s
go to ``/live/voice`` every second: the voice's emotion and the speaker's sex. With both, the
page asks ``/live/fuse`` for their fusion with the pipeline's weights. Bars show each track
smoothed over time by an exponential moving average with a 1-s time constant (a reading
``dt`` seconds after the last moves the bars ``1 - exp(-dt / 1 s)`` of the way to it).
Nothing is stored: frames and audio are read in memory and dropped after the answer.
"""

import json
from typing import Any

import numpy as np

from emorec.features.faces import equalize
from emorec.serving.media import MediaError, read_audio, read_gray_image
from emorec.serving.predictor import Predictor, class_answer
from emorec.tables import FACE_PIXELS

#: Most faces answered per frame (largest first).
MAX_FACES = 5


def frame_faces(predictor: Predictor, data: bytes) -> dict[str, Any]:
    """Every face of one camera frame (largest first): box in frame pixels, label, probabilities."""
    gray = read_gray_image(data, predictor.limits)
    visual = predictor.need("visual", "a camera frame")
    faces = predictor.detector.faces(gray, most=MAX_FACES)
    out: dict[str, Any] = {"width": int(gray.shape[1]), "height": int(gray.shape[0]), "faces": []}
    if faces:
        crops = np.stack([f.pixels.reshape(FACE_PIXELS) for f in faces])
        crops = equalize(crops) if predictor.face_params.equalize else crops
        for face, proba in zip(faces, predictor.face_proba(crops)):
            out["faces"].append({"box": list(face.box), **class_answer(visual.classes, proba)})
    return out


def voice_window(predictor: Predictor, data: bytes) -> dict[str, Any]:
    """The emotion (and sex) of a window of microphone audio."""
    clip = read_audio(data, sample_rate=predictor.audio_params.sample_rate, limits=predictor.limits)
    return predictor.voice([clip], same_speaker=False)[0]


def fuse_json(predictor: Predictor, data: bytes) -> dict[str, Any]:
    """The fusion of ``{"visual": {class: p}, "audio": {class: p}}`` as the pipeline fuses."""
    try:
        tracks = json.loads(data)
        parts = {
            role: (list(tracks[role]), np.array([float(p) for p in tracks[role].values()]))
            for role in ("visual", "audio")
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MediaError(f'expected {{"visual": {{class: p}}, "audio": {{class: p}}}} ({exc})') from exc
    classes, fused, method = predictor.fuse_tracks(parts)
    return {**class_answer(classes, fused), "fusion": method}


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>emorec live</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:62rem;margin:1.5rem auto;padding:0 1rem;color:#222}
#stage{position:relative;display:inline-block;background:#111;min-width:320px;min-height:240px}
#stage video{display:block;max-width:640px;width:100%}#stage canvas{position:absolute;left:0;top:0}
.row{display:flex;gap:1.5rem;flex-wrap:wrap;align-items:flex-start}section{min-width:17rem}h2{font-size:1.1rem;margin:.6rem 0 .3rem}
.bar{display:flex;align-items:center;margin:.15rem 0;font-size:.9rem}.bar span{width:6.5rem}
.bar div{background:#3a7bd5;height:.9rem;border-radius:3px;margin-right:.4rem}
#voice .bar div{background:#d5803a}#fusion .bar div{background:#5a3ad5}
.top{font-size:1.3rem;margin:.2rem 0}small{color:#666}#error{color:#b00020}button{font-size:1rem;padding:.4rem 1rem}
</style></head><body>
<h1>emorec live</h1>
<p>Emotion from your camera and microphone. <b>Nothing is stored:</b> frames and sound go to this
server (127.0.0.1 unless you chose otherwise), are analysed in memory and dropped.</p>
<p><button id="start">Start camera and microphone</button> <small id="stats"></small></p>
<p id="error"></p>
<div class="row">
 <div id="stage"><video id="video" autoplay muted playsinline></video><canvas id="overlay"></canvas></div>
 <div>
  <section id="face"><h2>Face</h2><div class="top" id="face-top">&ndash;</div><div class="bars"></div></section>
  <section id="voice"><h2>Voice (last 3 s)</h2><div class="top" id="voice-top">&ndash;</div><div id="voice-sex"></div><div class="bars"></div></section>
  <section id="fusion"><h2>Fusion</h2><div class="top" id="fusion-top">&ndash;</div><div class="bars"></div></section>
 </div>
</div>
<p><small>Bars: probabilities smoothed over time (exponential moving average, time constant 1 s).
Face: the largest face. Fusion: the pipeline's per-class F-score weights.</small></p>
<script>
const TAU = 1.0, FRAME_MS = 125, VOICE_EVERY_MS = 1000, VOICE_S = 3;
const video = document.getElementById("video"), overlay = document.getElementById("overlay");
const grab = document.createElement("canvas"), counts = {frames: 0, voice: 0, fusion: 0};
const smooth = {face: null, voice: null}, last = {face: 0, voice: 0};
let started = 0;
function ema(track, probs) {
  const now = performance.now() / 1000, old = smooth[track];
  if (!old) { smooth[track] = {...probs}; last[track] = now; return smooth[track]; }
  const a = 1 - Math.exp(-(now - last[track]) / TAU); last[track] = now;
  for (const [c, p] of Object.entries(probs)) old[c] = (old[c] ?? p) + a * (p - (old[c] ?? p));
  return old;
}
function show(id, probs) {
  const entries = Object.entries(probs).sort((a, b) => b[1] - a[1]);
  document.querySelector(`#${id} .bars`).innerHTML = entries.map(([c, p]) =>
    `<div class="bar" data-label="${c}"><span>${c}</span><div style="width:${Math.round(p * 220)}px"></div>${(100 * p).toFixed(0)}%</div>`).join("");
  document.getElementById(`${id}-top`).textContent = `${entries[0][0]} (${(100 * entries[0][1]).toFixed(0)}%)`;
  document.getElementById(id).dataset.label = entries[0][0];
}
function stats() {
  const s = (performance.now() - started) / 1000;
  document.getElementById("stats").textContent = `${(counts.frames / s).toFixed(1)} frames/s answered, ${counts.voice} voice windows`;
  for (const [k, v] of Object.entries(counts)) document.body.dataset[k] = v;
}
async function post(path, body, type) {
  const r = await fetch(path, {method: "POST", body, headers: {"Content-Type": type}});
  const answer = await r.json();
  if (!r.ok) throw new Error(answer.error || r.statusText);
  return answer;
}
function drawBoxes(answer) {
  overlay.width = video.clientWidth; overlay.height = video.clientHeight;
  const g = overlay.getContext("2d"), sx = overlay.width / answer.width, sy = overlay.height / answer.height;
  g.clearRect(0, 0, overlay.width, overlay.height); g.lineWidth = 3; g.font = "16px system-ui";
  document.body.dataset.boxes = answer.faces.length;
  for (const f of answer.faces) {
    const [x, y, w, h] = f.box;
    g.strokeStyle = "#3ad56b"; g.strokeRect(x * sx, y * sy, w * sx, h * sy);
    const text = `${f.label} ${(100 * f.probabilities[f.label]).toFixed(0)}%`;
    g.fillStyle = "rgba(0,0,0,.6)"; g.fillRect(x * sx, y * sy - 20, g.measureText(text).width + 8, 20);
    g.fillStyle = "#fff"; g.fillText(text, x * sx + 4, y * sy - 5);
  }
}
async function frameLoop() {
  while (true) {
    const t0 = performance.now();
    if (video.videoWidth) {
      const scale = Math.min(1, 640 / video.videoWidth);
      grab.width = Math.round(video.videoWidth * scale); grab.height = Math.round(video.videoHeight * scale);
      grab.getContext("2d").drawImage(video, 0, 0, grab.width, grab.height);
      const jpeg = await new Promise(ok => grab.toBlob(ok, "image/jpeg", 0.85));
      try {
        const answer = await post("live/frame", jpeg, "image/jpeg");
        counts.frames++; drawBoxes(answer);
        if (answer.faces.length) show("face", ema("face", answer.faces[0].probabilities));
      } catch (e) { document.getElementById("error").textContent = "camera: " + e.message; }
      stats();
    }
    await new Promise(ok => setTimeout(ok, Math.max(0, FRAME_MS - (performance.now() - t0))));
  }
}
function wav(samples, rate) {
  const out = new DataView(new ArrayBuffer(44 + 2 * samples.length));
  const text = (o, s) => [...s].forEach((ch, i) => out.setUint8(o + i, ch.charCodeAt(0)));
  text(0, "RIFF"); out.setUint32(4, 36 + 2 * samples.length, true); text(8, "WAVEfmt ");
  out.setUint32(16, 16, true); out.setUint16(20, 1, true); out.setUint16(22, 1, true);
  out.setUint32(24, rate, true); out.setUint32(28, 2 * rate, true); out.setUint16(32, 2, true);
  out.setUint16(34, 16, true); text(36, "data"); out.setUint32(40, 2 * samples.length, true);
  samples.forEach((s, i) => out.setInt16(44 + 2 * i, Math.max(-1, Math.min(1, s)) * 32767, true));
  return new Blob([out], {type: "audio/wav"});
}
function startVoice(stream) {
  const context = new AudioContext(), source = context.createMediaStreamSource(stream);
  const node = context.createScriptProcessor(4096, 1, 1), keep = VOICE_S * context.sampleRate;
  let ring = new Float32Array(0);
  node.onaudioprocess = e => {
    const chunk = e.inputBuffer.getChannelData(0), joined = new Float32Array(ring.length + chunk.length);
    joined.set(ring); joined.set(chunk, ring.length);
    ring = joined.length > keep ? joined.slice(joined.length - keep) : joined;
  };
  source.connect(node); node.connect(context.destination);
  setInterval(async () => {
    if (ring.length < context.sampleRate) return;  // at least 1 s
    try {
      const answer = await post("live/voice", wav(ring, context.sampleRate), "audio/wav");
      counts.voice++; show("voice", ema("voice", answer.probabilities));
      document.getElementById("voice-sex").textContent = answer.sex ? `speaker: ${answer.sex.label} (${(100 * answer.sex.probabilities[answer.sex.label]).toFixed(0)}%)` : "";
      document.getElementById("voice").dataset.sex = answer.sex ? answer.sex.label : "";
      if (smooth.face) {
        const fused = await post("live/fuse", JSON.stringify({visual: smooth.face, audio: smooth.voice}), "application/json");
        counts.fusion++; show("fusion", fused.probabilities);
      }
    } catch (e) { document.getElementById("error").textContent = "microphone: " + e.message; }
    stats();
  }, VOICE_EVERY_MS);
}
document.getElementById("start").addEventListener("click", async () => {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: true});
    video.srcObject = stream; started = performance.now();
    document.getElementById("start").disabled = true;
    frameLoop(); startVoice(stream);
  } catch (e) { document.getElementById("error").textContent = "no camera or microphone: " + e.message; }
});
</script></body></html>
"""
