"use strict";
// The rating page's logic. STUDY (above) holds the page's ids, title and, per pair, an opaque id
// and the two images in display order; an answer records the pair id and the side clicked.
(function () {
  var KEY = "pixel_recursive.rating:" + STUDY.page_id;
  // Inputs this soon after a pair appears are double clicks meant for the previous pair.
  var GUARD_MS = 150;
  var N = STUDY.pairs.length;
  var $ = function (id) { return document.getElementById(id); };
  var state = load();
  var shownAt = 0, ready = false;

  function newSession() {
    var id = (window.crypto && crypto.randomUUID) ? crypto.randomUUID()
        : Math.random().toString(16).slice(2) + Date.now().toString(16);
    return {session_id: id, rater: "", started_at: null, answers: []};
  }
  // The answers are kept in localStorage (they survive closing the browser) and in sessionStorage
  // (the tab's own): Chromium, on a fresh profile, was seen to reopen a file:// page's localStorage
  // empty after a reload; the tab's copy survives that. A reload resumes from the fuller of the two.
  function stored(storage) {
    try {
      var s = JSON.parse(storage.getItem(KEY));
      if (s && Array.isArray(s.answers) && s.session_id) return s;
    } catch (e) {}
    return null;
  }
  function load() {
    var kept = [stored(window.localStorage), stored(window.sessionStorage)].filter(Boolean);
    kept.sort(function (a, b) { return b.answers.length - a.answers.length; });
    return kept.length ? kept[0] : newSession();
  }
  function save() {
    // Some private modes have no storage: the page still works, a reload just starts over.
    var text = JSON.stringify(state);
    try { localStorage.setItem(KEY, text); } catch (e) {}
    try { sessionStorage.setItem(KEY, text); } catch (e) {}
  }
  function show(id) {
    ["start", "rate", "done"].forEach(function (s) { $(s).hidden = (s !== id); });
    $("progress").hidden = (id === "start");
  }
  function progress(finished) {
    var k = state.answers.length;
    // While rating: the pair on screen. At the end: how many were answered.
    $("counter").textContent = (finished ? k : Math.min(k + 1, N)) + " / " + N;
    $("bar-fill").style.width = (100 * k / N) + "%";
  }
  function place(img, entry) {
    var longer = Math.max(entry.width, entry.height);
    img.style.width = (100 * entry.width / longer) + "%";
    img.style.height = (100 * entry.height / longer) + "%";
    // A small image scaled up 2x or more: keep its pixels sharp, as the model produced them.
    img.classList.toggle("pixelated", 2 * longer <= STUDY.display_size);
    img.src = entry.src;
  }
  function next() {
    var stage = $("stage");
    ready = false;
    stage.dataset.shown = "0";
    stage.dataset.ready = "0";
    $("left").classList.remove("chosen");
    $("right").classList.remove("chosen");
    progress();
    if (state.answers.length >= N) return finish();
    var pair = STUDY.pairs[state.answers.length];
    var left = $("left-img"), right = $("right-img");
    place(left, pair.left);
    place(right, pair.right);
    stage.dataset.index = String(state.answers.length);
    var decoded = function (img) { return img.decode ? img.decode().catch(function () {}) : null; };
    Promise.all([decoded(left), decoded(right)]).then(function () {
      stage.dataset.shown = "1";
      requestAnimationFrame(function () {
        shownAt = performance.now();
        setTimeout(function () { ready = true; stage.dataset.ready = "1"; }, GUARD_MS);
      });
    });
  }
  function choose(side) {
    if (!ready || state.answers.length >= N) return;
    ready = false;
    var pair = STUDY.pairs[state.answers.length];
    state.answers.push({
      pair_id: pair.id, chosen_side: side,
      response_ms: Math.round(performance.now() - shownAt),
      answered_at: new Date().toISOString()
    });
    save();
    $(side).classList.add("chosen");
    setTimeout(next, 180);
  }
  function answersJson() {
    return {
      format: "pixel_recursive.rating/answers", version: 2,
      study_id: STUDY.study_id, page_id: STUDY.page_id, title: STUDY.title,
      rater: state.rater, session_id: state.session_id,
      started_at: state.started_at, finished_at: new Date().toISOString(),
      num_pairs: N, complete: state.answers.length >= N,
      user_agent: navigator.userAgent, answers: state.answers
    };
  }
  function finish() {
    ready = false;
    show("done");
    progress(true);
    var text = JSON.stringify(answersJson(), null, 1);
    var slug = (state.rater || state.session_id.slice(0, 8)).replace(/[^A-Za-z0-9_-]+/g, "_");
    var name = "answers_" + STUDY.page_id + "_" + slug + ".json";
    var link = $("download");
    if (link.href && link.href.indexOf("blob:") === 0) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(new Blob([text], {type: "application/json"}));
    link.download = name;
    $("file-name").textContent = name;
    $("answers-text").value = text;
    $("done-count").textContent = String(state.answers.length);
    $("more").hidden = state.answers.length >= N;
  }
  function begin() {
    state.rater = $("rater").value.trim();
    if (!state.started_at) state.started_at = new Date().toISOString();
    save();
    show("rate");
    next();
  }

  // --- wiring ---
  $("rater").value = state.rater || "";
  if (state.answers.length > 0) {
    $("resume").hidden = false;
    $("resume-count").textContent = String(state.answers.length);
    if (state.answers.length >= N) $("start-button").textContent = "Continue to the download";
  }
  $("restart").addEventListener("click", function () {
    state = newSession();
    save();
    $("resume").hidden = true;
    $("start-button").textContent = "Start";
  });
  $("start-form").addEventListener("submit", function (e) { e.preventDefault(); begin(); });
  $("left").addEventListener("click", function () { choose("left"); });
  $("right").addEventListener("click", function () { choose("right"); });
  $("stop").addEventListener("click", finish);
  $("continue").addEventListener("click", function () { show("rate"); next(); });
  document.addEventListener("keydown", function (e) {
    if ($("rate").hidden || e.repeat || e.altKey || e.ctrlKey || e.metaKey) return;
    if (e.key === "ArrowLeft") { e.preventDefault(); choose("left"); }
    if (e.key === "ArrowRight") { e.preventDefault(); choose("right"); }
  });
  progress();
  show("start");
  $("rater").focus();
})();
