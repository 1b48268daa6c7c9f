// The merchant's camera: read frames with getUserMedia, decode them with jsQR, and submit the code
// through the same form as a typed one. Without a camera (or permission) the typed code still works.
(function () {
  "use strict";
  var script = document.currentScript;
  var start = document.getElementById("scan-start");
  var video = document.getElementById("scan-video");
  var status = document.getElementById("scan-status");
  var form = document.getElementById("validate-form");
  var input = document.getElementById("code");
  if (!start || !video || !form || !input) return;
  var say = function (key) { status.textContent = script ? script.dataset[key] || "" : ""; };
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || typeof jsQR !== "function") {
    start.hidden = true;
    say("noCamera");
    return;
  }
  var canvas = document.createElement("canvas");
  var context = canvas.getContext("2d", { willReadFrequently: true });
  var stream = null;

  function stop() {
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    video.hidden = true;
  }

  function frame() {
    if (!stream) return;
    if (video.readyState === video.HAVE_ENOUGH_DATA) {
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      var image = context.getImageData(0, 0, canvas.width, canvas.height);
      var found = jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
      // Our codes are 19 characters of Crockford base32 and dashes; ignore any other QR in view.
      if (found && /^[0-9A-Z-]{16,32}$/.test(found.data)) {
        input.value = found.data;
        say("found");
        stop();
        form.submit();
        return;
      }
    }
    requestAnimationFrame(frame);
  }

  start.addEventListener("click", function () {
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (s) {
        stream = s;
        video.srcObject = s;
        video.hidden = false;
        say("scanning");
        return video.play();
      })
      .then(function () { requestAnimationFrame(frame); })
      .catch(function () { stop(); say("noCamera"); });
  });
})();
