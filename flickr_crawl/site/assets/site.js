// flickr-crawl offline site: arrow keys between photos and pages; notes placed over the image.
(function () {
  "use strict";

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) {
      return;
    }
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT|VIDEO)$/.test(target.tagName))) {
      return;
    }
    var rel = { ArrowLeft: "prev", ArrowRight: "next", Escape: "up" }[event.key];
    var link = rel && document.querySelector('a[rel~="' + rel + '"]');
    if (link) {
      event.preventDefault();
      window.location.href = link.href;
    }
  });

  // The page's Content-Security-Policy forbids inline styles, so note boxes carry their place
  // (percent of the picture: left top width height) in data-box and get it set here.
  function placeNotes() {
    var notes = document.querySelectorAll(".note[data-box]");
    for (var i = 0; i < notes.length; i++) {
      var box = notes[i].getAttribute("data-box").split(" ").map(Number);
      if (box.length !== 4 || box.some(isNaN)) {
        continue;
      }
      notes[i].style.left = box[0] + "%";
      notes[i].style.top = box[1] + "%";
      notes[i].style.width = box[2] + "%";
      notes[i].style.height = box[3] + "%";
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", placeNotes);
  } else {
    placeNotes();
  }
})();
