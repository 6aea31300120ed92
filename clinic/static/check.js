// The patient's check before entering: a preview of their camera, a meter of their
// microphone and a test tone for their speaker; a refusal explained, with a way to retry.
// Without a camera (refused or missing) the microphone alone will do.

const $ = (id) => document.getElementById(id);
let stream = null;
let meter = null;

export function checkedStream() { return stream; }

async function ask() {
  try {
    return { media: await navigator.mediaDevices.getUserMedia({ audio: true, video: true }), camera: true };
  } catch (first) {
    try {
      return { media: await navigator.mediaDevices.getUserMedia({ audio: true }), camera: false, why: first };
    } catch (second) { return { error: second }; }
  }
}

function explain(error, camera) {
  if (error && error.name === "NotFoundError") return "No camera or microphone was found on this device.";
  if (error) {
    return "Your browser did not allow the microphone. Allow it (the camera icon in the address " +
      "bar, or your browser's settings for this site), then press Try again.";
  }
  return camera ? "" : "You will wait with sound only: the camera was not allowed or not found. " +
    "To use it, allow it in your browser and press Try again.";
}

function listen(media) {
  meter?.close();
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  context.createMediaStreamSource(media).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const tick = () => {
    if (context.state === "closed") return;
    analyser.getFloatTimeDomainData(samples);
    let peak = 0;
    for (const s of samples) peak = Math.max(peak, Math.abs(s));
    $("level").value = Math.min(1, peak * 2);
    requestAnimationFrame(tick);
  };
  tick();
  meter = context;
}

async function check() {
  stream?.getTracks().forEach((t) => t.stop());
  stream = null;
  const got = await ask();
  $("check-problem").textContent = explain(got.error, got.camera);
  $("check-retry").hidden = got.camera === true;
  if (got.error) { $("check-result").hidden = true; return; }
  stream = got.media;
  $("check-result").hidden = false;
  $("preview").hidden = !got.camera;
  $("preview").srcObject = got.camera ? stream : null;
  $("check-start").hidden = true;
  listen(stream);
}

function tone() {
  const context = new AudioContext();
  const oscillator = context.createOscillator();
  const gain = context.createGain();
  gain.gain.value = 0.2;
  oscillator.frequency.value = 660;
  oscillator.connect(gain).connect(context.destination);
  oscillator.start();
  oscillator.stop(context.currentTime + 0.8);
  $("tone-said").textContent = "Playing a tone: you should hear it now.";
  oscillator.onended = () => { context.close(); $("tone-said").textContent = "Did you hear it? If not, turn your sound up."; };
  window.testTones = (window.testTones || 0) + 1;
}

export function stopChecking() { meter?.close(); meter = null; }

$("check-start").addEventListener("click", check);
$("check-retry").addEventListener("click", check);
$("tone").addEventListener("click", tone);
