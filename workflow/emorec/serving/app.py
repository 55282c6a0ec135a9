"""``emorec serve``: one upload page and a JSON ``/predict`` endpoint on the same predictor.

``GET /`` is the page (drag and drop or choose a file; the probabilities as bars, the top
label, the sex for a voice, the models that answered). ``POST /predict`` takes the file's
raw bytes as the body (``curl --data-binary @clip.wav``) and answers what ``emorec predict``
prints; ``GET /health`` lists the loaded models and how busy the server is. ``GET /live`` is
the camera-and-microphone page (:mod:`emorec.serving.live`); its frames, voice windows and
fusions go through ``/live/frame``, ``/live/voice`` and ``/live/fuse`` under the same limits.

Every refusal is a status and a one-line ``error``:

| status | when |
|---|---|
| 413 | the upload is over ``max_bytes`` (told by Content-Length, or while reading) |
| 408 | the upload took longer than ``timeout_s`` to arrive |
| 415 | not audio, an image or a video, or unreadable |
| 422 | media over a limit (:class:`emorec.serving.media.Limits`: duration, pixels, frames) |
| 503 | ``workers`` predictions running and ``queue`` waiting: try again after ``Retry-After`` s |
| 504 | the prediction took longer than ``timeout_s`` |

Predictions run in a pool of ``workers`` threads, so the event loop (``/health``, refusals)
always answers. Before a request waits for a worker, one more thread reads its headers
(:meth:`Predictor.check`), so a decompression bomb is refused in milliseconds however busy
the workers are. A request holds a worker slot from before its body is read until its
prediction ends, even past its 504 or after its client left: the server never starts more
work than its workers can finish.
"""

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from emorec.errors import EmorecError
from emorec.serving import live
from emorec.serving.media import OverLimit
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


class _TooLarge(Exception):
    pass


async def _body(request: Request, max_bytes: int) -> bytes:
    """The request's body, refused (:class:`_TooLarge`) as soon as it passes ``max_bytes``."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise _TooLarge
    return bytes(body)


def create_app(
    predictor: Predictor,
    *,
    max_bytes: int = 25 * 1024 * 1024,
    workers: int = 1,
    queue: int = 4,
    timeout_s: float = 60.0,
) -> Starlette:
    """The Starlette app serving ``predictor`` (see the module docstring for the limits)."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emorec-predict")
    checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emorec-check")
    slots = {"taken": 0}  # requests holding a slot: reading, waiting for a worker or predicting
    capacity = workers + queue

    def refuse(status: int, message: str, name: str | None = None, **headers: str) -> JSONResponse:
        log.info("%s: %d %s", name or "request", status, message)
        return JSONResponse(
            {**({"input": name} if name else {}), "error": message},
            status_code=status,
            headers=headers or None,
        )

    def release(*_: Any) -> None:
        slots["taken"] -= 1

    async def outcome(future: Any, name: str) -> Any:
        """What ``future`` returns, or the refusal its error or the time limit calls for."""
        try:
            return await asyncio.wait_for(future, timeout=timeout_s)
        except TimeoutError:
            return refuse(504, f"no answer within {timeout_s:g} s", name)
        except OverLimit as exc:
            return refuse(422, str(exc), name)
        except EmorecError as exc:
            return refuse(415, str(exc), name)

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(PAGE)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"models": predictor.sources, "busy": slots["taken"], "capacity": capacity})

    async def answer(
        request: Request, work: Callable[[bytes], dict[str, Any]], *, sniffed: bool = True
    ) -> JSONResponse:
        """``work``'s answer to the request's body, under the limits above; ``sniffed`` bodies
        are media, checked from their headers first."""
        declared = int(request.headers.get("content-length") or 0)
        # refused before the body is read: the connection closes, so a client does not send its
        # next request into the unread rest of this one
        if declared > max_bytes:
            return refuse(
                413, f"upload of {declared} bytes is over the {max_bytes}-byte limit", Connection="close"
            )
        if slots["taken"] >= capacity:
            return refuse(
                503,
                f"busy: {workers} predictions running and {queue} waiting",
                **{"Retry-After": "5", "Connection": "close"},
            )
        slots["taken"] += 1
        submitted = False
        try:
            try:
                body = await asyncio.wait_for(_body(request, max_bytes), timeout=timeout_s)
            except _TooLarge:
                return refuse(413, f"upload is over the {max_bytes}-byte limit")
            except TimeoutError:
                return refuse(408, f"the upload did not arrive within {timeout_s:g} s")
            name = unquote(request.headers.get("x-filename") or request.query_params.get("name") or "upload")
            loop = asyncio.get_running_loop()
            if sniffed:
                checked = await outcome(loop.run_in_executor(checks, predictor.check, body), name)
                if isinstance(checked, JSONResponse):
                    return checked
            running = loop.run_in_executor(pool, work, body)
            running.add_done_callback(
                release
            )  # the slot is free when the work ends, not when we stop waiting
            submitted = True
            result = await outcome(asyncio.shield(running), name)
            return result if isinstance(result, JSONResponse) else JSONResponse({"input": name, **result})
        finally:
            if not submitted:
                release()

    async def predict(request: Request) -> JSONResponse:
        return await answer(request, predictor.predict)

    async def live_page(request: Request) -> HTMLResponse:
        return HTMLResponse(live.PAGE)

    async def live_frame(request: Request) -> JSONResponse:
        return await answer(request, partial(live.frame_faces, predictor))

    async def live_voice(request: Request) -> JSONResponse:
        return await answer(request, partial(live.voice_window, predictor))

    async def live_fuse(request: Request) -> JSONResponse:
        return await answer(request, partial(live.fuse_json, predictor), sniffed=False)

    return Starlette(
        routes=[
            Route("/", page),
            Route("/health", health),
            Route("/predict", predict, methods=["POST"]),
            Route("/live", live_page),
            Route("/live/frame", live_frame, methods=["POST"]),
            Route("/live/voice", live_voice, methods=["POST"]),
            Route("/live/fuse", live_fuse, methods=["POST"]),
        ]
    )
