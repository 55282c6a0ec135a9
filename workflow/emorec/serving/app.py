"""``emorec serve``: one upload page and a JSON ``/predict`` endpoint on the same predictor.

``GET /`` is the page (drag and drop or choose a file; the probabilities as bars, the top
label, the sex for a voice, the models that answered). ``POST /predict`` takes the file's
raw bytes as the body (``curl --data-binary @clip.wav``) and answers what ``emorec predict``
prints; ``GET /health`` lists the loaded models. Uploads over ``max_bytes`` get 413, files
that are not audio, an image or a video 415, each with a one-line ``error``.
"""

import asyncio
import logging
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from emorec.errors import EmorecError
from emorec.serving.predictor import Predictor

log = logging.getLogger(__name__)

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>emorec: emotion from a file</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
#drop{display:block;border:2px dashed #888;border-radius:12px;padding:2.5rem;text-align:center;cursor:pointer}
#drop.over{background:#eef5ff;border-color:#3a7bd5}
.bar{display:flex;align-items:center;margin:.2rem 0}.bar span{width:7rem}
.bar div{background:#3a7bd5;height:1rem;border-radius:3px;margin-right:.5rem}
#top{font-size:1.6rem;margin:.8rem 0}#error{color:#b00020}small{color:#666}
img#preview{max-height:120px;display:block;margin:1rem 0}
</style></head><body>
<h1>emorec</h1>
<p>Drop an audio file (WAV, FLAC, MP3, ...), a face image (JPEG, PNG) or a video clip (MP4); it stays on this machine.</p>
<label id="drop">Drop a file here, or click to choose one<input id="file" type="file" hidden
 accept="audio/*,image/*,video/*,.wav,.flac,.mp3,.mp4"></label>
<div id="result" hidden><img id="preview" hidden alt="">
<div id="top"></div><div id="sex"></div><div id="bars"></div><p><small id="models"></small></p></div>
<p id="error"></p>
<script>
const drop = document.getElementById("drop"), input = document.getElementById("file");
drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", e => { e.preventDefault(); drop.classList.remove("over"); send(e.dataTransfer.files[0]); });
input.addEventListener("change", () => send(input.files[0]));
function bars(probs) {
  return Object.entries(probs).sort((a, b) => b[1] - a[1]).map(([c, p]) =>
    `<div class="bar" data-label="${c}"><span>${c}</span><div style="width:${Math.round(p * 300)}px"></div>${(100 * p).toFixed(1)}%</div>`).join("");
}
async function send(file) {
  if (!file) return;
  document.getElementById("error").textContent = "";
  document.getElementById("top").textContent = "…";
  const response = await fetch("predict", {method: "POST", body: file, headers: {"X-Filename": encodeURIComponent(file.name)}});
  const answer = await response.json();
  if (!response.ok || answer.error) {
    document.getElementById("result").hidden = true;
    document.getElementById("error").textContent = file.name + ": " + (answer.error || response.statusText);
    return;
  }
  const preview = document.getElementById("preview");
  preview.hidden = answer.kind !== "image";
  if (answer.kind === "image") preview.src = URL.createObjectURL(file);
  document.getElementById("top").textContent = `${file.name}: ${answer.label} (${(100 * answer.probabilities[answer.label]).toFixed(1)}%)`;
  document.getElementById("sex").textContent = answer.sex ? `voice: ${answer.sex.label} (${(100 * answer.sex.probabilities[answer.sex.label]).toFixed(1)}%)` : "";
  document.getElementById("bars").innerHTML = bars(answer.probabilities);
  document.getElementById("models").textContent = "answered by " + Object.entries(answer.models).map(([r, s]) => `${r}: ${s}`).join("; ");
  document.getElementById("result").hidden = false;
  document.body.dataset.answered = file.name;
}
</script></body></html>
"""


def create_app(predictor: Predictor, *, max_bytes: int = 25 * 1024 * 1024) -> Starlette:
    """The Starlette app serving ``predictor``."""
    lock = asyncio.Lock()  # TensorFlow and the detector run one request at a time

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"models": predictor.sources})

    async def predict(request: Request) -> JSONResponse:
        declared = int(request.headers.get("content-length") or 0)
        if declared > max_bytes:
            return JSONResponse({"error": f"upload of {declared} bytes is over the {max_bytes}-byte limit"}, status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_bytes:
                return JSONResponse({"error": f"upload is over the {max_bytes}-byte limit"}, status_code=413)
        name = unquote(request.headers.get("x-filename") or request.query_params.get("name") or "upload")
        async with lock:
            try:
                answer: dict[str, Any] = await asyncio.to_thread(predictor.predict, bytes(body))
            except EmorecError as exc:
                log.info("%s: refused (%s)", name, exc)
                return JSONResponse({"input": name, "error": str(exc)}, status_code=415)
        return JSONResponse({"input": name, **answer})

    return Starlette(routes=[Route("/", page), Route("/health", health), Route("/predict", predict, methods=["POST"])])
