// flickr-crawl offline search: reads window.FLICKR_SEARCH (search-index.js) and shows the photos
// having every word of the query as the start of one of their words. Results are built with
// DOM calls and textContent only: nothing from the index is ever parsed as HTML.
(function () {
  "use strict";

  var LIMIT = 500;
  var index = window.FLICKR_SEARCH;

  // The same folding as flickr_crawl/site/search.py words(): lower case, NFKD, marks dropped.
  function words(text) {
    var folded = text.toLowerCase().normalize("NFKD").replace(/\p{M}/gu, "");
    return folded.match(/[\p{L}\p{N}]+/gu) || [];
  }

  var decoded = {};
  function postings(term) {
    if (!decoded[term]) {
      var numbers = [];
      var last = 0;
      index.terms[term].split(",").forEach(function (gap) {
        last += parseInt(gap, 36);
        numbers.push(last);
      });
      decoded[term] = numbers;
    }
    return decoded[term];
  }

  var termList = null;
  function matching(word) {
    termList = termList || Object.keys(index.terms);
    var found = new Set();
    for (var i = 0; i < termList.length; i++) {
      if (termList[i].lastIndexOf(word, 0) === 0) {
        postings(termList[i]).forEach(function (n) { found.add(n); });
      }
    }
    return found;
  }

  function search(query) {
    var terms = Array.from(new Set(words(query)));
    if (!terms.length) {
      return null;
    }
    var result = null;
    terms.forEach(function (term) {
      var found = matching(term);
      result = result === null ? found : new Set(Array.from(result).filter(function (n) { return found.has(n); }));
    });
    return Array.from(result).sort(function (a, b) { return a - b; });
  }

  function show(query) {
    var status = document.getElementById("search-status");
    var list = document.getElementById("search-results");
    list.replaceChildren();
    if (!index) {
      status.textContent = "The search index (search-index.js) is missing: run `scrapy site` again.";
      return;
    }
    var hits = search(query);
    if (hits === null) {
      status.textContent = "Type a word to search titles, descriptions, tags, notes and comments.";
      return;
    }
    status.textContent = hits.length === 1 ? "1 photo found" : hits.length + " photos found";
    if (hits.length > LIMIT) {
      status.textContent += " (showing the first " + LIMIT + ")";
    }
    hits.slice(0, LIMIT).forEach(function (n) {
      var doc = index.docs[n]; // [id, title, thumbnail key or "", 1 if video]
      var title = doc[1] || (doc[3] ? "Untitled video" : "Untitled");
      var link = document.createElement("a");
      link.href = "photos/" + encodeURIComponent(doc[0].replace(/[^A-Za-z0-9_-]/g, "_")) + ".html";
      link.title = title;
      var img = document.createElement("img");
      img.src = doc[2] ? "t/" + encodeURIComponent(doc[0] + "-" + doc[2]) + ".jpg"
        : (doc[3] ? "assets/video.svg" : "assets/missing.svg");
      img.alt = title;
      img.loading = "lazy";
      var caption = document.createElement("span");
      caption.className = "cap";
      caption.textContent = title;
      link.appendChild(img);
      link.appendChild(caption);
      var item = document.createElement("li");
      item.appendChild(link);
      list.appendChild(item);
    });
  }

  function start() {
    var input = document.getElementById("q");
    var query = new URLSearchParams(window.location.search).get("q") || "";
    input.value = query;
    show(query);
    var timer = null;
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        show(input.value);
        var url = new URL(window.location.href);
        url.searchParams.set("q", input.value);
        window.history.replaceState(null, "", url.href);
      }, 150);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
