// wirewatch desk: search, read and follow the wire through the public /v1 API of this origin.
//
// Safety rule: no string from the API is ever parsed as HTML. Text goes in through text nodes;
// the only markup the API sends (<mark> around matches, everything else escaped by the server)
// is rebuilt by splitting on the two literal tags. The page's CSP also requires Trusted Types,
// so any innerHTML-style sink would throw instead of rendering.

const KEY_STORE = "wirewatch.apiKey";
const PAGE_SIZE = 20;
const FACET_SIZE = 20;
const RTL = new Set(["ar", "fa", "he", "iw", "ur", "ps", "sd", "ug", "yi", "dv", "ckb"]);
const DESK_LANGUAGES = ["ar", "tr"]; // the renditions every story should have besides its original

const $ = (id) => document.getElementById(id);
const ui = {
  form: $("search-form"), q: $("q"), live: $("live"), liveState: $("live-state"),
  keyButton: $("key-button"), error: $("error"), searchView: $("search-view"),
  storyView: $("story-view"), results: $("results"), summary: $("summary"), more: $("more"),
  banner: $("new-stories"), from: $("date-from"), to: $("date-to"), days: $("days"),
  storyTitle: $("story-title"), storyMeta: $("story-meta"), renditions: $("renditions"),
  history: $("history"), copyLink: $("copy-link"), linkText: $("link-text"), copyState: $("copy-state"),
  keyDialog: $("key-dialog"), keyInput: $("key-input"), keyMessage: $("key-message"),
  watchView: $("watch-view"), watchTitle: $("watch-title"), watchMeta: $("watch-meta"), alerts: $("alerts"),
  alertsMore: $("alerts-more"), watchlists: $("watchlists"), watchState: $("watch-state"), markAll: $("mark-all"),
  watchDialog: $("watch-dialog"), watchWhat: $("watch-what"), watchName: $("watch-name"),
  watchMessage: $("watch-message"), watchFeed: $("watch-feed"), watchFeedLabel: $("watch-feed-label"),
  watchSave: $("watch-save"),
};

// ---------------------------------------------------------------- small helpers

/** Create an element with attributes and children (strings become text nodes, never HTML). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'" };

/** Decode the five entities Python's html.escape writes; anything else stays literally as it is. */
function unescapeText(text) {
  return text.replace(/&(?:amp|lt|gt|quot|#x27|#39);/g, (m) => ENTITIES[m]);
}

/**
 * Nodes for server-escaped text with <mark> around matches: split on the literal tags, decode the
 * rest as text. A stray "<" can only come out as a visible character.
 */
function markedNodes(escaped) {
  const nodes = [];
  let inMark = false;
  for (const part of String(escaped).split(/(<mark>|<\/mark>)/)) {
    if (part === "<mark>") { inMark = true; continue; }
    if (part === "</mark>") { inMark = false; continue; }
    if (!part) continue;
    const text = document.createTextNode(unescapeText(part));
    nodes.push(inMark ? el("mark", {}, text) : text);
  }
  return nodes;
}

function primary(tag) { return String(tag || "").split("-")[0].toLowerCase(); }
function dirOf(tag) { return RTL.has(primary(tag)) ? "rtl" : "ltr"; }

let languageNames = null;
try { languageNames = new Intl.DisplayNames(undefined, { type: "language" }); } catch { languageNames = null; }
function languageName(tag) {
  if (!tag) return "unknown language";
  try { return (languageNames && languageNames.of(tag)) || tag; } catch { return tag; }
}

// dateStyle/timeStyle cannot be combined with timeZoneName, hence the fields one by one.
const absoluteFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
});
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
  ["hour", 3600], ["minute", 60], ["second", 1]];

function relativeTime(date, now = Date.now()) {
  const seconds = (date.getTime() - now) / 1000;
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") {
      return relativeFormat.format(Math.round(seconds / size), unit);
    }
  }
  return "";
}

/** A <time> showing "3 hours ago · 25 Nov 2026, 10:15 GMT+3" in the reader's own zone. */
function timeNode(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return el("span", {}, String(iso));
  const absolute = absoluteFormat.format(date);
  return el("time", { datetime: iso, title: absolute, "data-iso": iso },
    el("span", { class: "rel" }, relativeTime(date)), " · ", absolute);
}

function refreshRelativeTimes() {
  const now = Date.now();
  for (const node of document.querySelectorAll("time[data-iso] .rel")) {
    node.textContent = relativeTime(new Date(node.parentElement.dataset.iso), now);
  }
}

function showError(message) {
  ui.error.textContent = message || "";
  ui.error.hidden = !message;
}

// ---------------------------------------------------------------- API access

class AuthNeeded extends Error {}
class ApiError extends Error {}

function apiKey() { try { return sessionStorage.getItem(KEY_STORE) || ""; } catch { return ""; } }

function headers(accept) {
  const h = { Accept: accept };
  const key = apiKey();
  if (key) h["X-API-Key"] = key;
  return h;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return String(body.error.message);
  } catch { /* not JSON: fall back to the status line */ }
  return `HTTP ${response.status} ${response.statusText}`.trim();
}

/** GET a /v1 JSON resource; 401 raises AuthNeeded so the key dialog can ask for a key. */
async function getJson(path, params, signal) {
  const query = params && params.toString();
  const response = await fetch(query ? `${path}?${query}` : path, {
    headers: headers("application/json"), signal, cache: "no-store", credentials: "omit",
  });
  if (response.status === 401) throw new AuthNeeded(await errorMessage(response));
  if (!response.ok) throw new ApiError(await errorMessage(response));
  return response.json();
}

// ---------------------------------------------------------------- API key dialog

let retryAfterKey = []; // every action that met a 401 (a search and a story can both be waiting)

function updateKeyButton() {
  ui.keyButton.textContent = apiKey() ? "API key ✓" : "API key";
  ui.keyButton.setAttribute("aria-label", apiKey() ? "API key set; change or forget it" : "Enter an API key");
}

function askForKey(message, retry) {
  if (retry) retryAfterKey.push(retry);
  ui.keyMessage.textContent = message || "This search service needs a reader API key.";
  ui.keyInput.value = "";
  if (!ui.keyDialog.open) ui.keyDialog.showModal();
  ui.keyInput.focus();
}

ui.keyButton.addEventListener("click", () => askForKey("Enter a reader API key for this service.", () => runSearch()));
ui.keyDialog.addEventListener("close", () => {
  const action = ui.keyDialog.returnValue;
  ui.keyDialog.returnValue = "";
  try {
    if (action === "save" && ui.keyInput.value.trim()) sessionStorage.setItem(KEY_STORE, ui.keyInput.value.trim());
    if (action === "forget") sessionStorage.removeItem(KEY_STORE);
  } catch { showError("This browser refused to store the key for the session."); }
  ui.keyInput.value = "";
  updateKeyButton();
  const retries = retryAfterKey;
  retryAfterKey = [];
  if (action === "save" || action === "forget") {
    for (const retry of retries) retry();
    loadWatchlists();
  }
});

/** Run an API action; a 401 opens the key dialog and retries the action once a key is given. */
async function withKey(action) {
  try {
    await action();
  } catch (err) {
    if (err instanceof AuthNeeded) { askForKey(err.message, () => withKey(action)); return; }
    if (err && err.name === "AbortError") return;
    showError(err instanceof ApiError ? err.message : `The search service did not answer: ${err}`);
  }
}

// ---------------------------------------------------------------- search state (kept in the URL hash)

const state = { q: "", lang: [], provider: [], from: "", to: "", sort: "newest" };
let currentKey = null;    // the hash form of the search on screen
let nextCursor = null;
let searchAbort = null;

function readHash() {
  const p = new URLSearchParams(location.hash.replace(/^#/, ""));
  const sort = p.get("sort");
  return {
    search: {
      q: p.get("q") || "",
      lang: p.getAll("lang"),
      provider: p.getAll("provider"),
      from: /^\d{4}-\d{2}-\d{2}$/.test(p.get("from") || "") ? p.get("from") : "",
      to: /^\d{4}-\d{2}-\d{2}$/.test(p.get("to") || "") ? p.get("to") : "",
      sort: sort === "relevance" ? "relevance" : "newest",
    },
    story: p.get("story") || "",
    watch: p.get("watch") || "",
  };
}

function searchHash(s) {
  const p = new URLSearchParams();
  if (s.q) p.set("q", s.q);
  for (const v of s.lang) p.append("lang", v);
  for (const v of s.provider) p.append("provider", v);
  if (s.from) p.set("from", s.from);
  if (s.to) p.set("to", s.to);
  if (s.sort !== "newest") p.set("sort", s.sort);
  return p.toString();
}

function storyHash(id) {
  const base = searchHash(state);
  return `#${base ? `${base}&` : ""}story=${encodeURIComponent(id)}`;
}

/** Midnight of a yyyy-mm-dd day in the reader's zone, as an ISO instant (plus `days`). */
function localMidnight(day, days = 0) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d + days).toISOString();
}

function apiParams(s, extra = {}) {
  const p = new URLSearchParams();
  if (s.q) p.set("q", s.q);
  for (const v of s.lang) p.append("lang", v);
  for (const v of s.provider) p.append("provider", v);
  if (s.from) p.set("from", localMidnight(s.from));
  if (s.to) p.set("to", localMidnight(s.to, 1)); // the whole "to" day is included
  p.set("sort", s.sort);
  for (const [k, v] of Object.entries(extra)) p.set(k, String(v));
  return p;
}

function formState() {
  return {
    q: ui.q.value.trim(),
    lang: [...document.querySelectorAll('[data-dim="lang"] input:checked')].map((i) => i.value),
    provider: [...document.querySelectorAll('[data-dim="provider"] input:checked')].map((i) => i.value),
    from: ui.from.value,
    to: ui.to.value,
    sort: document.querySelector('input[name="sort"]:checked').value,
  };
}

/** Put a search in the URL; the hashchange that follows runs it (one path for typing, links and Back). */
function submitSearch(s) {
  const hash = searchHash(s);
  if (location.hash.replace(/^#/, "") === hash) { currentKey = null; route(); return; }
  location.hash = hash;
}

function fillForm(s) {
  ui.q.value = s.q;
  ui.from.value = s.from;
  ui.to.value = s.to;
  for (const radio of document.querySelectorAll('input[name="sort"]')) radio.checked = radio.value === s.sort;
}

// ---------------------------------------------------------------- facets

const facetMemory = { lang: new Map(), provider: new Map() }; // values seen for this query, with counts

function renderFacet(dim, buckets, selected) {
  const box = document.querySelector(`[data-dim="${dim}"]`);
  const memory = facetMemory[dim];
  for (const key of memory.keys()) memory.set(key, 0);
  for (const b of buckets || []) memory.set(b.value, b.count);
  for (const v of selected) if (!memory.has(v)) memory.set(v, 0);
  if (dim === "lang") for (const v of DESK_LANGUAGES) if (!memory.has(v)) memory.set(v, 0);
  const values = [...memory.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  box.replaceChildren();
  if (!values.length) box.append(el("p", { class: "empty" }, "None in these results."));
  for (const [value, count] of values) {
    const label = dim === "lang" ? `${languageName(value)} (${value})` : value;
    box.append(el("label", {},
      el("input", { type: "checkbox", value, checked: selected.includes(value) }),
      el("span", { dir: "auto" }, label), // provider names come in any script
      el("span", { class: "count" }, el("span", { class: "vh" }, ", "), String(count),
        el("span", { class: "vh" }, count === 1 ? " story" : " stories"))));
  }
}

function renderDays(buckets) {
  ui.days.replaceChildren();
  if (!buckets || !buckets.length) return;
  ui.days.append(el("span", {}, "Stories by day (UTC)"),
    el("ul", {}, buckets.slice().sort((a, b) => b.value.localeCompare(a.value))
      .map((b) => el("li", {}, el("span", {}, b.value.slice(0, 10)), el("span", {}, String(b.count))))));
}

/**
 * Counts beside a filter say what ticking it would give: for a dimension with a filter on, the
 * counts come from the same search without that dimension's filter (one extra small request).
 */
async function facetCounts(s, page, signal) {
  const facets = { ...(page.facets || {}) };
  for (const [dim, key] of [["lang", "language"], ["provider", "provider"]]) {
    if (!s[dim].length) continue;
    const other = await getJson("/v1/search",
      apiParams({ ...s, [dim]: [] }, { size: 1, facets: true, facet_size: FACET_SIZE }), signal);
    facets[key] = (other.facets || {})[key] || [];
  }
  return facets;
}

// ---------------------------------------------------------------- results

function languagesNode(languages, matched) {
  return el("span", { class: "langs" },
    el("span", { class: "vh" }, `Languages: ${languages.map((l) => languageName(l)).join(", ")}`),
    languages.map((l) => el("span", {
      class: `lang${l === matched ? " matched" : ""}`, title: languageName(l), "aria-hidden": "true", "data-lang": l,
    }, l)));
}

const FLAG_WORDS = {
  copy_through: "left in the source language",
  length_ratio: "unusual length",
  repetition: "repeated words",
  untranslated: "sentences too long to translate",
  low_confidence: "model unsure",
  pivot: "through English",
};

function doubts(quality) {
  return quality && Array.isArray(quality.flags) ? quality.flags.filter((f) => f !== "pivot") : [];
}

function qualityMarks(quality, testPackage, partial) {
  const marks = [];
  if (partial) marks.push(el("span", { class: "mark partial", title: "Headline and first paragraphs; the full translation replaces it" }, "partial translation: more to come"));
  if (testPackage) marks.push(el("span", { class: "mark test-package" }, "test package: meaningless text"));
  const flags = doubts(quality);
  if (flags.length) {
    const why = quality.reason || flags.map((f) => FLAG_WORDS[f] || f).join(", ");
    marks.push(el("span", { class: "mark quality", title: why }, `check translation: ${flags.map((f) => FLAG_WORDS[f] || f).join(", ")}`));
  }
  return marks;
}

function hitNode(hit, isNew = false) {
  const lang = hit.language;
  const link = el("a", { class: "hit-link", href: storyHash(hit.story_id), "data-story": hit.story_id },
    ...markedNodes(hit.headline_html || "(no headline)"));
  const languages = languagesNode(hit.languages, lang);
  const meta = el("p", { class: "meta" },
    el("span", { class: "provider", dir: "auto" }, hit.provider || "unknown provider"),
    timeNode(hit.versioncreated),
    languages,
    el("span", { class: "matched-in" }, `matched in ${languageName(lang)}`),
    hit.version > 1 ? el("span", {}, `version ${hit.version}`) : null,
    ...qualityMarks(hit.quality, hit.test_package, hit.partial));
  const snippet = hit.snippet
    ? el("p", { class: "snippet", lang, dir: dirOf(lang) }, ...markedNodes(hit.snippet))
    : null;
  return el("li", { class: `hit${isNew ? " new" : ""}`, "data-story": hit.story_id, "data-version": hit.version, "data-lang": lang,
    "data-partial": hit.partial ? "1" : null },
    el("article", { "aria-label": hit.headline || hit.story_id },
      el("h3", { lang, dir: dirOf(lang) }, link), meta, snippet));
}

function summaryText(total, shown) {
  if (!total) return state.q ? "No stories match this search." : "No stories yet.";
  return `${total} ${total === 1 ? "story" : "stories"}${shown < total ? `, showing ${shown}` : ""}`;
}

async function runSearch() {
  if (searchAbort) searchAbort.abort();
  const controller = new AbortController();
  searchAbort = controller;
  const s = { ...state, lang: [...state.lang], provider: [...state.provider] };
  await withKey(async () => {
    ui.summary.textContent = "Searching…";
    const page = await getJson("/v1/search",
      apiParams(s, { size: PAGE_SIZE, facets: true, facet_size: FACET_SIZE }), controller.signal);
    const facets = await facetCounts(s, page, controller.signal);
    if (controller.signal.aborted) return;
    showError("");
    pending.clear();
    updateBanner();
    ui.results.replaceChildren(...page.hits.map((h) => hitNode(h)));
    nextCursor = page.next_cursor || null;
    ui.more.hidden = !nextCursor;
    ui.summary.textContent = summaryText(page.total, page.hits.length);
    ui.summary.dataset.total = String(page.total);
    renderFacet("lang", facets.language, s.lang);
    renderFacet("provider", facets.provider, s.provider);
    renderDays(facets.day);
  });
  if (ui.summary.textContent === "Searching…") ui.summary.textContent = "";
}

async function loadMore() {
  if (!nextCursor) return;
  ui.more.disabled = true;
  const s = { ...state };
  await withKey(async () => {
    const page = await getJson("/v1/search", apiParams(s, { size: PAGE_SIZE, cursor: nextCursor }));
    const nodes = page.hits.map((h) => hitNode(h));
    ui.results.append(...nodes);
    nextCursor = page.next_cursor || null;
    ui.more.hidden = !nextCursor;
    ui.summary.textContent = summaryText(page.total, ui.results.children.length);
    if (nodes.length) nodes[0].querySelector(".hit-link").focus();
  });
  ui.more.disabled = false;
}

// ---------------------------------------------------------------- live stream

// EventSource cannot send the X-API-Key header, so the stream is read with fetch() and parsed here.
const pending = new Map(); // story id -> newest hit not yet shown
let liveAbort = null;

function setLiveState(text, cls) {
  ui.liveState.textContent = text;
  ui.liveState.className = `live-state ${cls || ""}`;
}

function updateBanner() {
  const n = pending.size;
  ui.banner.hidden = n === 0;
  ui.banner.textContent = n ? `${n} new ${n === 1 ? "story" : "stories"} — show` : "";
}

/** One hit per story: the newest version; within a version the original's text, every language listed. */
function mergeHit(old, hit) {
  if (!old || hit.version > old.version) return hit;
  const languages = [...new Set([...old.languages, ...hit.languages])].sort();
  if (hit.version < old.version) return { ...old, languages };
  const keepOld = old.language === old.original_language || hit.language !== hit.original_language;
  return { ...(keepOld ? old : hit), languages };
}

function shownItem(storyId) {
  return ui.results.querySelector(`li[data-story="${CSS.escape(storyId)}"]`);
}

function handleEvent(type, data) {
  if (type === "story") {
    let hit;
    try { hit = JSON.parse(data); } catch { return; }
    if (!hit || typeof hit.story_id !== "string" || !Array.isArray(hit.languages)) return;
    const shown = shownItem(hit.story_id);
    if (shown && shown.dataset.partial && !hit.partial && Number(shown.dataset.version) === hit.version
      && hit.language === shown.dataset.lang) {
      shown.replaceWith(hitNode(hit)); // the full rendition of what is on screen: same place, marker gone
      return;
    }
    if (shown && Number(shown.dataset.version) >= hit.version) {
      // Not new: a rendition of what is on screen. Refresh its language list in place, nothing moves.
      const have = [...shown.querySelectorAll(".lang")].map((e) => e.dataset.lang);
      const languages = [...new Set([...have, ...hit.languages])].sort();
      shown.querySelector(".langs").replaceWith(languagesNode(languages, shown.dataset.lang));
      return;
    }
    pending.set(hit.story_id, mergeHit(pending.get(hit.story_id), hit));
    updateBanner();
  } else if (type === "error") {
    setLiveState("search unavailable", "bad");
  }
}

/** Split an SSE byte stream into events (the text/event-stream rules the server's events need). */
async function readEvents(body, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || signal.aborted) return;
      buffer += value;
      // Line ends may be \r\n, \r or \n; a \r at the end of a chunk waits to see what follows it.
      const held = buffer.endsWith("\r") ? 1 : 0;
      buffer = buffer.slice(0, buffer.length - held).replace(/\r\n?/g, "\n") + buffer.slice(buffer.length - held);
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (!line || line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") type = value;
          else if (field === "data") data.push(value);
        }
        if (data.length) handleEvent(type, data.join("\n"));
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

async function follow(s, signal) {
  let delay = 1000;
  while (!signal.aborted) {
    const p = new URLSearchParams();
    if (s.q) p.set("q", s.q);
    for (const v of s.lang) p.append("lang", v);
    for (const v of s.provider) p.append("provider", v);
    try {
      setLiveState("connecting…");
      const response = await fetch(`/v1/stream?${p}`, {
        headers: headers("text/event-stream"), signal, cache: "no-store", credentials: "omit",
      });
      if (response.status === 401) {
        const message = await errorMessage(response);
        stopLive();
        askForKey(message, () => { ui.live.checked = true; startLive(); });
        return;
      }
      if (response.status === 429 || response.status >= 500) {
        // Busy or briefly down: wait (as long as the server asks, if it says) and reconnect.
        const asked = Number(response.headers.get("Retry-After"));
        if (asked > 0) delay = Math.max(delay, Math.min(asked * 1000, 60000));
        throw new Error(await errorMessage(response));
      }
      if (!response.ok) throw new ApiError(await errorMessage(response));
      setLiveState("live", "on");
      delay = 1000;
      await readEvents(response.body, signal);
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError) { stopLive(); showError(`Live: ${err.message}`); return; }
    }
    if (signal.aborted) return;
    setLiveState("reconnecting…", "bad");
    await sleep(delay, signal);
    delay = Math.min(delay * 2, 30000);
  }
}

function startLive() {
  stopLive(false);
  liveAbort = new AbortController();
  follow({ ...state }, liveAbort.signal);
}

function stopLive(uncheck = true) {
  if (liveAbort) liveAbort.abort();
  liveAbort = null;
  if (uncheck) { ui.live.checked = false; setLiveState("off"); }
}

function showPending() {
  const hits = [...pending.values()].sort((a, b) => b.versioncreated.localeCompare(a.versioncreated));
  pending.clear();
  updateBanner();
  let added = 0;
  const nodes = hits.map((hit) => {
    const old = shownItem(hit.story_id);
    if (old) old.remove();
    else added += 1;
    return hitNode(hit, true);
  });
  ui.results.prepend(...nodes);
  const total = Number(ui.summary.dataset.total || 0) + added;
  ui.summary.dataset.total = String(total);
  ui.summary.textContent = summaryText(total, ui.results.children.length);
  if (nodes.length) {
    nodes[0].scrollIntoView({ block: "nearest" });
    nodes[0].querySelector(".hit-link").focus();
  }
}

// ---------------------------------------------------------------- story view

let storyAbort = null;
let returnTo = { scroll: 0, story: "" };
let openedFromList = false;

function renditionOrder(record) {
  const original = primary(record.original_language);
  const rank = (lang) => (primary(lang) === original ? 0 : DESK_LANGUAGES.includes(primary(lang))
    ? 1 + DESK_LANGUAGES.indexOf(primary(lang)) : 10);
  return record.renditions.slice().sort((a, b) => rank(a.language) - rank(b.language)
    || a.language.localeCompare(b.language));
}

function provenance(story, record) {
  const rows = [];
  const add = (term, ...value) => rows.push(el("dt", {}, term), el("dd", {}, ...value));
  const t = story.translation;
  if (!t) {
    add("Status", el("span", { class: "status original" }, "original"));
    add("Version", String(story.version));
    if (story.format) add("Arrived as", story.format);
    if (story.provider) add("Provider", el("span", { dir: "auto" }, story.provider.name));
    if (story.byline) add("Byline", el("span", { lang: story.language, dir: "auto" }, story.byline));
    add("Created", timeNode(story.versioncreated));
    return el("dl", { class: "provenance" }, rows);
  }
  add("Status", el("span", { class: `status ${t.status}` }, t.status));
  if (t.status !== "translated" && t.error) add("Reason", t.error);
  add("Engine", t.engine || "unknown");
  add("Model", t.package ? `${t.package}${t.package_version ? ` ${t.package_version}` : ""}` : "none");
  if (t.pivot && t.pivot.length) add("Via", t.pivot.map(languageName).join(", "));
  add("From", `${languageName(t.source_language)}, version ${t.of_version}`);
  const latest = Math.max(...record.versions.filter((v) => primary(v.language) === primary(record.original_language))
    .map((v) => v.version), 0);
  if (latest > t.of_version) add("Note", `translates version ${t.of_version}; the original is at version ${latest}`);
  add("Translated", timeNode(t.translated_at));
  if (typeof t.duration_ms === "number") add("Took", `${Math.round(t.duration_ms)} ms`);
  if (t.quality) {
    const q = t.quality;
    const parts = [];
    if (typeof q.confidence === "number") parts.push(`confidence ${Math.round(q.confidence * 100)}%`);
    if (q.flags && q.flags.length) parts.push(q.flags.map((f) => FLAG_WORDS[f] || f).join(", "));
    if (q.sentences) parts.push(`${q.flagged_sentences || 0} of ${q.sentences} sentences flagged`);
    if (parts.length) add("Quality", parts.join("; "));
  }
  if (t.test_package) add("Package", "a test package: meaningless text, not a translation");
  if (t.kept_pivot) add("Made", "on the way to another language through English, kept so the story reads in English");
  return el("dl", { class: "provenance" }, rows);
}

function renditionBlock(story, record) {
  const lang = story.language;
  const t = story.translation;
  const role = t ? "rendition" : "original";
  const id = `rendition-${lang}`;
  const text = el("section", { class: "rendition-text", lang, dir: dirOf(lang), "data-lang": lang, "aria-labelledby": id });
  const hasText = story.headline || (story.body && story.body.length);
  if (t) {
    const marks = qualityMarks(t.quality, t.test_package, t.status === "partial");
    if (marks.length) text.append(el("p", { class: "notice marks", lang: "en", dir: "ltr" }, ...marks));
  }
  if (hasText) {
    text.append(el("h4", {}, story.headline || ""));
    if (story.summary) text.append(el("p", { class: "summary-text" }, story.summary));
    if (story.dateline && story.dateline.text) text.append(el("p", { class: "dateline", dir: "auto" }, story.dateline.text));
    for (const paragraph of story.body || []) text.append(el("p", {}, paragraph));
    if (!t && story.repairs && story.repairs.length) {
      text.append(el("p", { class: "notice", lang: "en", dir: "ltr" },
        "Repaired at ingest: " + story.repairs.map((r) => `${r.field} (${r.kind})`).join(", ")));
    }
  } else {
    text.append(el("p", { class: "notice", lang: "en", dir: "ltr" },
      `No ${languageName(lang)} text: the rendition is ${t ? t.status : "empty"}.`));
  }
  return el("article", { class: `rendition ${role}`, "data-lang": lang },
    el("h3", { id }, `${languageName(lang)} · ${role}`), text, provenance(story, record));
}

function missingBlock(lang) {
  return el("article", { class: "rendition missing", "data-lang": lang },
    el("h3", {}, `${languageName(lang)} · rendition`),
    el("section", { class: "rendition-text", lang, dir: dirOf(lang), "data-lang": lang },
      el("p", { class: "notice", lang: "en", dir: "ltr" }, `No ${languageName(lang)} rendition has been indexed yet.`)),
    el("dl", { class: "provenance" }, el("dt", {}, "Status"), el("dd", {}, el("span", { class: "status missing" }, "not received"))));
}

function renderStory(record) {
  const ordered = renditionOrder(record);
  const original = ordered.find((s) => !s.translation) || ordered[0];
  ui.storyTitle.replaceChildren(el("span", { lang: original ? original.language : null,
    dir: original ? dirOf(original.language) : null }, (original && original.headline) || record.story_id));
  ui.storyMeta.replaceChildren(
    el("span", { dir: "auto" }, original && original.provider ? original.provider.name : "unknown provider"),
    original ? timeNode(original.versioncreated) : "",
    el("span", {}, `story ${record.story_id}`),
    el("span", {}, `original in ${languageName(record.original_language)}`));
  const blocks = ordered.map((s) => renditionBlock(s, record));
  const present = new Set(ordered.map((s) => primary(s.language)));
  for (const lang of DESK_LANGUAGES) if (!present.has(lang)) blocks.push(missingBlock(lang));
  ui.renditions.replaceChildren(...blocks);
  ui.history.replaceChildren(...record.versions.slice().reverse().map((v) => el("tr", {},
    el("td", {}, String(v.version)),
    el("td", {}, languageName(v.language)),
    el("td", {}, v.status || "original"),
    el("td", {}, timeNode(v.versioncreated)),
    el("td", {}, timeNode(v.indexed_at)),
    el("td", { lang: v.language, dir: dirOf(v.language) }, v.headline || "—"))));
  document.title = `${(original && original.headline) || record.story_id} — wirewatch desk`;
}

async function openStory(id) {
  if (storyAbort) storyAbort.abort();
  const controller = new AbortController();
  storyAbort = controller;
  if (ui.storyView.hidden) returnTo = { scroll: window.scrollY, story: id };
  ui.searchView.hidden = true;
  ui.watchView.hidden = true;
  ui.storyView.hidden = false;
  ui.storyView.dataset.story = id;
  ui.storyTitle.textContent = "Loading…";
  ui.storyMeta.replaceChildren();
  ui.renditions.replaceChildren();
  ui.history.replaceChildren();
  ui.linkText.hidden = true;
  ui.copyState.textContent = "";
  await withKey(async () => {
    const record = await getJson(`/v1/stories/${encodeURIComponent(id)}`, null, controller.signal);
    if (controller.signal.aborted) return;
    showError("");
    renderStory(record);
    ui.storyView.dataset.loaded = id;
  });
  if (ui.storyTitle.textContent === "Loading…") ui.storyTitle.textContent = "Story not available";
  ui.storyTitle.focus();
}

function closeStoryView(watchId = "") {
  if (ui.storyView.hidden) return;
  const active = document.activeElement;
  const refocus = !active || active === document.body || ui.storyView.contains(active);
  ui.storyView.hidden = true;
  delete ui.storyView.dataset.loaded;
  ui.searchView.hidden = Boolean(watchId);
  ui.watchView.hidden = !watchId;
  document.title = "wirewatch desk";
  window.scrollTo(0, returnTo.scroll);
  const link = (watchId ? ui.alerts : ui.results).querySelector(`a[data-story="${CSS.escape(returnTo.story)}"]`);
  if (link && refocus) link.focus({ preventScroll: true });
}

function leaveStory() {
  if (openedFromList) history.back();
  else location.hash = searchHash(state);
}

async function copyLink() {
  const id = ui.storyView.dataset.story;
  const url = `${location.origin}${location.pathname}#story=${encodeURIComponent(id)}`;
  ui.linkText.value = url;
  try {
    await navigator.clipboard.writeText(url);
    ui.copyState.textContent = "Link copied.";
  } catch {
    ui.linkText.hidden = false;
    ui.linkText.select();
    ui.copyState.textContent = "Copy the selected link (Ctrl+C).";
  }
}

// ---------------------------------------------------------------- watchlists (the alerts API, passed on by this origin)

// Unread = active alerts changed since this browser last opened the watchlist. "When" is the alerts
// service's own time (`as_of` of the answer), so the reader's clock never matters.
const READ_STORE = "wirewatch.readAt";
const WATCH_POLL_MS = 20000;
const watch = { list: [], asOf: {}, unread: {}, id: "", before: null };
const alertsPath = (id) => `/v1/watchlists/${encodeURIComponent(id)}`;

function readMarks() {
  try { return JSON.parse(localStorage.getItem(READ_STORE) || "{}") || {}; } catch { return {}; }
}

function markRead(id, asOf) {
  if (!asOf) return;
  const marks = readMarks();
  marks[id] = asOf;
  try { localStorage.setItem(READ_STORE, JSON.stringify(marks)); } catch { /* not kept: counts come back on reload */ }
  watch.unread[id] = 0;
}

function watchHash(id, story) {
  const base = searchHash(state);
  return `#${base ? `${base}&` : ""}watch=${encodeURIComponent(id)}${story ? `&story=${encodeURIComponent(story)}` : ""}`;
}

function renderWatchlists() {
  ui.watchlists.replaceChildren(...watch.list.map((w) => {
    const n = watch.unread[w.id] || 0;
    return el("li", { "data-watchlist": w.id },
      el("a", { href: watchHash(w.id), "aria-current": w.id === watch.id ? "true" : null },
        el("span", { dir: "auto" }, w.name), " ",
        el("span", { class: `unread${n ? "" : " none"}` }, `${n} unread`)));
  }));
  ui.markAll.hidden = !watch.list.some((w) => watch.unread[w.id] > 0);
}

/** The watchlists and each one's unread count; quietly says why when the alerts service cannot tell. */
async function loadWatchlists() {
  try {
    const page = await getJson("/v1/watchlists", new URLSearchParams({ limit: "100" }));
    const marks = readMarks();
    await Promise.all(page.watchlists.map(async (w) => {
      const p = new URLSearchParams({ limit: "1" });
      if (marks[w.id]) p.set("since", marks[w.id]);
      const found = await getJson(`${alertsPath(w.id)}/alerts`, p);
      watch.asOf[w.id] = found.as_of;
      watch.unread[w.id] = found.unread;
    }));
    watch.list = page.watchlists;
    renderWatchlists();
    ui.watchState.textContent = watch.list.length ? "" : "None yet: “Watch this search” makes one.";
  } catch (err) {
    ui.watchState.textContent = err instanceof AuthNeeded ? "Watchlists need an API key."
      : `Watchlists unavailable: ${err.message}`;
  }
}

function alertNode(alert, readAt) {
  const s = alert.story;
  const fresh = alert.state === "active" && (!readAt || new Date(alert.changed_at) > new Date(readAt));
  return el("li", { class: `hit alert ${alert.state}${fresh ? " fresh" : ""}`, "data-story": s.id, "data-alert": alert.id },
    el("h3", { lang: alert.language, dir: dirOf(alert.language) },
      el("a", { class: "hit-link", href: watchHash(watch.id, s.id), "data-story": s.id }, s.headline || s.id)),
    el("p", { class: "meta" },
      fresh ? el("span", { class: "badge" }, "new") : null,
      alert.state === "withdrawn" ? el("span", { class: "badge withdrawn" }, "withdrawn: the story was killed") : null,
      el("span", { dir: "auto" }, s.provider || "unknown provider"),
      timeNode(alert.changed_at),
      el("span", { class: "matched-in" }, `matched in ${languageName(alert.language)}`),
      s.version > 1 ? el("span", {}, `version ${s.version}`) : null));
}

/** One watchlist's alerts, latest first; opening the list marks it read. */
async function loadAlerts(more = false) {
  const id = watch.id;
  const readAt = readMarks()[id] || "";
  await withKey(async () => {
    const p = new URLSearchParams({ limit: "50" });
    if (more && watch.before) p.set("before", watch.before);
    const [meta, page] = await Promise.all([getJson(alertsPath(id)), getJson(`${alertsPath(id)}/alerts`, p)]);
    if (watch.id !== id) return;
    showError("");
    ui.watchTitle.replaceChildren(el("span", { dir: "auto" }, meta.name));
    const f = meta.filters;
    ui.watchMeta.textContent = "Alerts for " + [meta.query ? `“${meta.query}”` : "any words", ...f.languages.map(languageName),
      ...f.providers, ...f.places].join(" · ");
    const items = page.alerts.map((a) => alertNode(a, readAt));
    if (more) ui.alerts.append(...items);
    else ui.alerts.replaceChildren(...(items.length ? items : [el("li", { class: "empty" }, "No alerts yet.")]));
    watch.before = page.next_before || null;
    ui.alertsMore.hidden = !watch.before;
    if (!more) { markRead(id, page.as_of); renderWatchlists(); }
  });
}

function showWatch(id) {
  if (!ui.storyView.hidden) return;
  ui.searchView.hidden = Boolean(id);
  ui.watchView.hidden = !id;
  if (id === watch.id) return;
  watch.id = id;
  renderWatchlists();
  if (!id) return;
  ui.watchTitle.textContent = "Loading…";
  ui.watchMeta.textContent = "";
  ui.alerts.replaceChildren();
  loadAlerts().then(() => ui.watchTitle.focus());
}

function describeSearch(s) {
  return [s.q ? `“${s.q}”` : "any words", ...s.lang.map(languageName), ...s.provider].join(" · ");
}

async function createWatch() {
  const name = ui.watchName.value.trim();
  if (!name) { ui.watchMessage.textContent = "Give the watchlist a name."; ui.watchName.focus(); return; }
  const body = { name, query: state.q, filters: { languages: state.lang, providers: state.provider }, channels: [{ type: "feed" }] };
  ui.watchSave.disabled = true;
  try {
    const response = await fetch("/v1/watchlists", {
      method: "POST", body: JSON.stringify(body), cache: "no-store", credentials: "omit",
      headers: { ...headers("application/json"), "Content-Type": "application/json" },
    });
    if (response.status === 401 || response.status === 403) {
      const message = "Creating a watchlist needs a writer API key.";
      ui.watchMessage.textContent = `${message} (${await errorMessage(response)})`;
      askForKey(message, createWatch);
      return;
    }
    if (!response.ok) { ui.watchMessage.textContent = await errorMessage(response); return; }
    const made = await response.json();
    markRead(made.id, made.created_at);
    ui.watchMessage.textContent = `Watching “${made.name}”: its alerts appear under Watchlists.`;
    ui.watchFeed.value = `${location.origin}${alertsPath(made.id)}/feed.atom?token=${encodeURIComponent(made.feed_token)}`;
    ui.watchFeed.hidden = ui.watchFeedLabel.hidden = false;
    ui.watchSave.hidden = true;
    loadWatchlists();
  } catch (err) {
    ui.watchMessage.textContent = `The alerts service did not answer: ${err}`;
  } finally {
    ui.watchSave.disabled = false;
  }
}

$("watch-button").addEventListener("click", () => {
  ui.watchWhat.textContent = `Alerts, as they arrive, for stories matching ${describeSearch(state)} in any language version.`
    + (state.from || state.to ? " Dates are not part of a watchlist." : "");
  ui.watchName.value = state.q.slice(0, 200);
  ui.watchMessage.textContent = "";
  ui.watchFeed.hidden = ui.watchFeedLabel.hidden = true;
  ui.watchSave.hidden = false;
  ui.watchDialog.showModal();
  ui.watchName.focus();
});
$("watch-form").addEventListener("submit", (event) => {
  if (event.submitter && event.submitter.value === "save") { event.preventDefault(); createWatch(); }
});
ui.markAll.addEventListener("click", () => {
  for (const w of watch.list) markRead(w.id, watch.asOf[w.id]);
  renderWatchlists();
});
ui.alertsMore.addEventListener("click", () => loadAlerts(true));
$("watch-back").addEventListener("click", () => { location.hash = searchHash(state); });

// ---------------------------------------------------------------- routing and keyboard

function route(fromLink = false) {
  const { search, story, watch: watchId } = readHash();
  const key = searchHash(search);
  if (key !== currentKey) {
    if (currentKey !== null && (search.q !== state.q)) {
      facetMemory.lang.clear();
      facetMemory.provider.clear();
    }
    Object.assign(state, search);
    fillForm(search);
    currentKey = key;
    runSearch();
    if (liveAbort) startLive();
    renderWatchlists(); // their links carry the search, to come back to it
  }
  if (story) {
    openedFromList = fromLink;
    if (ui.storyView.dataset.story !== story || ui.storyView.hidden) openStory(story);
  } else {
    closeStoryView(watchId);
    showWatch(watchId);
  }
}

let linkClicked = false;
window.addEventListener("hashchange", () => { const f = linkClicked; linkClicked = false; route(f); });
for (const list of [ui.results, ui.alerts]) {
  list.addEventListener("click", (event) => {
    if (event.target.closest(".hit-link")) linkClicked = true;
  });
}

ui.form.addEventListener("submit", (event) => { event.preventDefault(); submitSearch(formState()); });
document.querySelector(".filters").addEventListener("change", (event) => {
  if (event.target.matches('input[type="checkbox"], input[type="radio"], input[type="date"]')) submitSearch(formState());
});
$("dates-clear").addEventListener("click", () => { ui.from.value = ""; ui.to.value = ""; submitSearch(formState()); });
$("filters-clear").addEventListener("click", () => {
  submitSearch({ ...formState(), lang: [], provider: [], from: "", to: "" });
});
ui.more.addEventListener("click", loadMore);
ui.banner.addEventListener("click", showPending);
ui.live.addEventListener("change", () => (ui.live.checked ? startLive() : stopLive()));
$("story-back").addEventListener("click", leaveStory);
ui.copyLink.addEventListener("click", copyLink);

function resultLinks() { return [...ui.results.querySelectorAll(".hit-link")]; }

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
  const target = event.target;
  const typing = target.closest && target.closest("input, textarea, select, [contenteditable]");
  if (event.key === "/" && !typing && !ui.keyDialog.open) {
    event.preventDefault();
    if (!ui.storyView.hidden) leaveStory();
    ui.q.focus();
    ui.q.select();
    return;
  }
  if (event.key === "Escape" && !ui.storyView.hidden && !ui.keyDialog.open) {
    event.preventDefault();
    leaveStory();
    return;
  }
  if (event.key === "Escape" && !ui.watchView.hidden && !ui.keyDialog.open) {
    event.preventDefault();
    location.hash = searchHash(state);
    return;
  }
  if ((event.key === "ArrowDown" || event.key === "ArrowUp") && !ui.searchView.hidden) {
    const links = resultLinks();
    if (!links.length) return;
    const index = links.indexOf(target);
    if (index < 0 && target !== ui.q) return; // arrows keep their meaning elsewhere (radios, dates)
    event.preventDefault();
    const next = index < 0 ? 0 : Math.max(0, Math.min(links.length - 1, index + (event.key === "ArrowDown" ? 1 : -1)));
    links[next].focus();
    links[next].scrollIntoView({ block: "nearest" });
  }
});

updateKeyButton();
// On a narrow screen the results come first: the filters start folded under their summary.
if (window.matchMedia("(max-width: 48rem)").matches) $("filters-box").open = false;
setInterval(refreshRelativeTimes, 30000);
setInterval(() => { if (!document.hidden) loadWatchlists(); }, WATCH_POLL_MS);
route();
loadWatchlists();
