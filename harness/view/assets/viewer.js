/* harness.view: the problem table and the episodes, built from the JSON embedded in the page.
 * Every piece of run data reaches the DOM through textContent (or a property such as title),
 * never innerHTML: model output is shown as text, whatever it holds. Episode bodies are
 * gzip+base64 and inflated only when a problem is opened, so a run of thousands of calls
 * opens at once. */
(function () {
  "use strict";

  const FOLD_CHARS = 2000;
  const FOLD_LINES = 40;
  const CELL_CHARS = 90;

  const DATA = JSON.parse(document.getElementById("view-data").textContent);
  const COMPARE = DATA.kind === "compare";
  const app = document.getElementById("app");

  // -- small DOM helpers (text only) ------------------------------------------------------
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function add(parent) {
    for (let i = 1; i < arguments.length; i++) {
      const kid = arguments[i];
      if (kid === null || kid === undefined || kid === false) continue;
      parent.appendChild(typeof kid === "object" ? kid : document.createTextNode(String(kid)));
    }
    return parent;
  }
  function token(s) {
    return String(s).toLowerCase().replace(/[^a-z0-9]+/g, "-");
  }
  function fmtNum(v, digits) {
    if (v === null || v === undefined || v === "") return "";
    if (typeof v !== "number") return String(v);
    return digits === undefined ? v.toLocaleString("en-US") : v.toFixed(digits);
  }
  function short(s, n) {
    s = s === null || s === undefined ? "" : String(s);
    return s.length > n ? s.slice(0, n) + "…" : s;
  }
  function asText(v) {
    if (v === null || v === undefined) return "";
    return typeof v === "string" ? v : JSON.stringify(v, null, 1);
  }

  // Long texts are folded, never cut: the button swaps in the whole text.
  function textBlock(value, cls) {
    const s = asText(value);
    const wrap = el("div", "text" + (cls ? " " + cls : ""));
    const body = el("pre");
    wrap.appendChild(body);
    const lines = s.split("\n");
    if (s.length <= FOLD_CHARS && lines.length <= FOLD_LINES) {
      body.textContent = s;
      return wrap;
    }
    const head = lines.slice(0, FOLD_LINES).join("\n").slice(0, FOLD_CHARS);
    body.textContent = head;
    const more = `show all (${fmtNum(s.length)} chars, ${fmtNum(lines.length)} lines)`;
    const btn = add(wrap, el("button", "fold", more)).lastChild;
    btn.type = "button";
    let folded = true;
    btn.addEventListener("click", function (ev) {
      ev.stopPropagation();
      folded = !folded;
      body.textContent = folded ? head : s;
      btn.textContent = folded ? more : "fold";
      wrap.classList.toggle("unfolded", !folded);
    });
    wrap.classList.add("folded");
    return wrap;
  }

  // A <details> whose content is built the first time it is opened.
  function lazyDetails(summary, build, cls) {
    const d = el("details", cls);
    add(d, el("summary", null, summary));
    let built = false;
    d.addEventListener("toggle", function () {
      if (d.open && !built) {
        built = true;
        add(d, build());
      }
    });
    return d;
  }

  // -- episodes ---------------------------------------------------------------------------
  const sources = [];
  const cache = new Map();

  async function inflate(b64) {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  async function episode(run, index) {
    const key = run + ":" + index;
    if (!cache.has(key)) {
      if (!sources[run]) {
        sources[run] = JSON.parse(document.getElementById("view-episodes-" + run).textContent);
      }
      const v = sources[run][index];
      cache.set(key, typeof v === "string" ? inflate(v) : Promise.resolve(v));
    }
    return cache.get(key);
  }

  function kv(label, value, cls) {
    return add(el("span", "kv" + (cls ? " " + cls : "")), el("span", "k", label), el("span", "v", value));
  }

  // Short one-line values inline; anything longer as a folded block of its own.
  function labelled(label, value, cls) {
    const text = asText(value);
    if (text.length <= 160 && text.indexOf("\n") < 0) return kv(label, text, "line");
    return add(el("div", "labelled"), el("div", "field-label", label), textBlock(text, cls));
  }

  function budget(v) {
    return typeof v === "number" && v > 0 && v % 1024 === 0 ? v / 1024 + "k" : String(v);
  }

  const SKIP = new Set(["type", "kind", "seq", "round", "call"]);

  function genericFields(ev, skip) {
    const box = el("div", "fields");
    for (const k of Object.keys(ev)) {
      if (SKIP.has(k) || (skip && skip.has(k))) continue;
      const v = ev[k];
      if (v === null || v === undefined || v === "") continue;
      const text = asText(v);
      if (text.length > 80 || text.indexOf("\n") >= 0) {
        add(box, el("div", "field-label", k), textBlock(text));
      } else {
        add(box, kv(k, text));
      }
    }
    return box;
  }

  function verdictText(agree) {
    return agree === true ? "Agree" : agree === false ? "Disagree" : "abstain";
  }

  // One renderer per event kind of the transcript schema; others are shown field by field.
  const EVENTS = {
    ceo_decision(ev, box) {
      const plan = ev.stop ? "Stop" : "Continue";
      add(box, el("span", "badge " + (ev.stop ? "stop" : "go"), plan));
      if (!ev.stop) add(box, kv("agents", ev.agents), kv("budget", budget(ev.budget)));
      if (ev.parsed === false) add(box, el("span", "badge warn", "unparsed: fallback plan"));
      if (ev.direction) add(box, labelled("direction", ev.direction));
      if (ev.said && typeof ev.said === "object") {
        const said = Object.keys(ev.said).map(function (k) { const v = ev.said[k];
          return k + " " + (v === null || v === undefined || v === "" ? "—" : asText(v)); });
        add(box, el("div", "said", "the CEO said: " + said.join(" · ")));
      }
      for (const a of ev.adjustments || []) add(box, el("div", "adjust", "adjusted: " + asText(a)));
      return genericFields(ev, new Set(["stop", "agents", "budget", "parsed", "direction", "said", "adjustments"]));
    },
    experts(ev, box) {
      if (ev.solver) add(box, el("div", "expert", "solver: " + asText(ev.solver)));
      (ev.critics || []).forEach(function (c, i) {
        add(box, el("div", "expert", "critic " + (i + 1) + ": " + asText(c)));
      });
      return genericFields(ev, new Set(["solver", "critics"]));
    },
    verdict(ev, box) {
      add(box, el("span", "badge " + token(verdictText(ev.agree)), verdictText(ev.agree)));
      if (ev.agent !== undefined) add(box, kv("critic", ev.agent));
      if (ev.iteration) add(box, kv("iteration", ev.iteration));
      return genericFields(ev, new Set(["agree", "agent", "iteration"]));
    },
    review(ev, box) {
      add(box, kv("iteration", ev.iteration), kv("agree", ev.agree), kv("disagree", ev.disagree));
      if (ev.abstain) add(box, kv("abstain", ev.abstain));
      return genericFields(ev, new Set(["iteration", "agree", "disagree", "abstain"]));
    },
    tests(ev, box) {
      add(box, el("div", "field-label", "tests"), textBlock(ev.code, "code"));
      return genericFields(ev, new Set(["code"]));
    },
    execution(ev, box) {
      const ok = ev.passed === true;
      add(box, el("span", "badge " + (ok ? "agree" : "disagree"), ok ? "passed" : "failed"));
      if (ev.verdict) add(box, kv("verdict", ev.verdict));
      if (ev.output) add(box, el("div", "field-label", "output"), textBlock(ev.output, "code"));
      if (ev.program) add(box, lazyDetails("program", function () { return textBlock(ev.program, "code"); }));
      return genericFields(ev, new Set(["passed", "verdict", "output", "program"]));
    },
    evaluation(ev, box) {
      const c = ev.correct;
      const word = c === true || c === 1 ? "correct" : c === false || c === 0 ? "wrong" : "unclear";
      add(box, el("span", "badge " + (word === "correct" ? "agree" : word === "wrong" ? "disagree" : "warn"), word));
      if (ev.parsed === false) add(box, el("span", "badge warn", "unparsed"));
      if (ev.advice) add(box, labelled("advice", ev.advice));
      if (ev.recruiting) add(box, labelled("recruiting", ev.recruiting));
      return genericFields(ev, new Set(["correct", "parsed", "advice", "recruiting"]));
    },
    stop(ev, box) {
      add(box, el("span", "badge stop", "stop"), kv("by", ev.by));
      return genericFields(ev, new Set(["by"]));
    },
    graded(ev, box) {
      add(box, gradeBadge(ev));
      if (ev.step === "round_final") add(box, el("span", "muted", "the answer round " + ev.round + " ended with"));
      return genericFields(ev, new Set(["status", "step", "version", "adopted", "iteration"]));
    },
  };

  // Answer trajectories (harness.trajectory): each graded answer as ✓ ✗ — ?.
  const GRADE = { correct: "✓", wrong: "✗", no_answer: "—", error: "?" };
  function gradeBadge(ev) {
    const s = String(ev.status);
    const text = (GRADE[s] || "?") + " " + s.replace(/_/g, " ") + (ev.adopted === false ? " (not adopted)" : "");
    const b = el("span", "badge grade grade-" + token(s), text);
    b.title = "graded by the task's scorer" + (ev.answer ? ": " + short(ev.answer, 200) : "");
    return b;
  }
  const FLIP_NOTE = {
    talked_out: "this step talked the system out of a right answer",
    rescued: "this step rescued a wrong answer",
    recovered: "this step made a right answer wrong (recovered later)",
  };

  function eventView(ev) {
    const kind = String(ev.kind || "event");
    const box = el("div", "event ev-" + token(kind));
    box.dataset.kind = kind;
    add(box, el("span", "ev-kind", kind.replace(/_/g, " ")));
    const render = Object.prototype.hasOwnProperty.call(EVENTS, kind) ? EVENTS[kind] : null;
    add(box, render ? render(ev, box) : genericFields(ev));
    return box;
  }

  function callView(c, attached, flipNote) {
    const role = String(c.role || "call");
    const card = el("div", "call role-" + token(role));
    if (flipNote) {
      card.classList.add("flip");
      add(card, el("div", "flip-note", "⚑ " + flipNote));
    }
    card.dataset.role = role;
    const head = add(el("div", "call-head"), el("span", "role", role));
    if (c.agent) add(head, el("span", "agent", "#" + c.agent));
    if (c.expert) add(head, el("span", "expert", short(c.expert, 90)));
    if (c.step) add(head, el("span", "step", c.step + (c.iteration ? " " + c.iteration : "")));
    if (c.attempt) add(head, el("span", "badge warn", "retry " + c.attempt));
    for (const ev of attached) {
      if (ev.kind === "verdict") add(head, el("span", "badge " + token(verdictText(ev.agree)), verdictText(ev.agree)));
      if (ev.kind === "graded") add(head, gradeBadge(ev));
    }
    const meta = el("span", "meta");
    const toks = fmtNum(c.prompt_tokens) + " → " + fmtNum(c.completion_tokens) + " tok";
    add(meta, toks);
    if (c.reasoning_tokens) add(meta, " (" + fmtNum(c.reasoning_tokens) + " thinking)");
    if (c.max_tokens) add(meta, " / max " + fmtNum(c.max_tokens));
    if (typeof c.latency_s === "number") add(meta, " · " + c.latency_s.toFixed(2) + " s");
    // When it ran within the episode: parallel critics overlap.
    if (typeof c.start_s === "number" && typeof c.end_s === "number") {
      add(meta, " · at " + c.start_s.toFixed(2) + "–" + c.end_s.toFixed(2) + " s");
    }
    add(head, meta);
    if (c.finish_reason && c.finish_reason !== "stop") add(head, el("span", "badge warn", c.finish_reason));
    add(card, head);
    if (c.error) add(card, el("div", "error", "engine error: " + asText(c.error)));
    if (c.thinking) {
      add(card, lazyDetails("thinking (" + fmtNum(String(c.thinking).length) + " chars)", function () {
        return textBlock(c.thinking, "thinking");
      }, "thinking-box"));
    }
    add(card, textBlock(c.output, "output"));
    for (const ev of attached) if (ev.kind !== "graded") add(card, eventView(ev));
    const msgs = Array.isArray(c.messages) ? c.messages : [];
    add(card, lazyDetails("prompt (" + msgs.length + " messages)", function () {
      const box = el("div", "messages");
      if (c.prefix) add(box, el("div", "msg-role", "prefix (the model continued it)"), textBlock(c.prefix));
      for (const m of msgs) add(box, el("div", "msg-role", m && m.role), textBlock(m && m.content));
      return box;
    }, "prompt-box"));
    if (c.raw !== undefined && c.raw !== null) {
      add(card, lazyDetails("raw generation", function () { return textBlock(c.raw); }, "raw-box"));
    }
    const extra = new Set(["role", "agent", "expert", "step", "iteration", "attempt", "messages", "prefix",
      "raw", "output", "thinking", "prompt_tokens", "completion_tokens", "reasoning_tokens",
      "max_tokens", "latency_s", "finish_reason", "error", "raw_is_thinking_and_output"]);
    add(card, lazyDetails("call details", function () { return genericFields(c, extra); }, "details-box"));
    return card;
  }

  function episodeView(ep) {
    const box = el("div", "episode");
    if (ep.missing) {
      add(box, el("p", "error", "No transcript of this attempt was recorded."));
    }
    const head = el("div", "ep-head");
    add(head, el("span", "badge " + (ep.correct ? "agree" : "disagree"), ep.correct ? "correct" : "wrong"));
    if (ep.mas) add(head, kv("system", ep.mas));
    if (ep.attempt) add(head, kv("attempt", ep.attempt));
    if (ep.trajectory) add(head, kv("trajectory", ep.trajectory + " · " + String(ep.trajectory_class || "").replace(/_/g, " "), "traj"));
    add(box, head);
    add(box, labelled("answer", ep.answer === null || ep.answer === undefined ? "(none)" : ep.answer, "code"));
    add(box, labelled("reference", ep.reference === null || ep.reference === undefined ? "(not recorded)" : ep.reference, "code"));
    if (ep.reason) add(box, el("div", "reason", "why: " + asText(ep.reason)));
    if (ep.error) add(box, el("div", "error", "error: " + asText(ep.error)));
    if (ep.judge) add(box, add(el("div", "judge"), el("span", "k", "LLM judge"), genericFields(ep.judge)));
    add(box, el("h4", null, "Problem"), textBlock(ep.prompt, "prompt"));

    // An event that names its call is shown inside it when nothing else happened in between
    // (only calls of the same role, such as critics running in parallel); otherwise it stands
    // where it happened (the sandbox run of the solver's code after the executor's tests).
    const items = ep.items || [];
    const calls = items.filter(function (x) { return x.type === "call" && typeof x.seq === "number"; });
    const roleOf = new Map(calls.map(function (c) { return [c.seq, c.role]; }));
    function attachable(ev) {
      if (typeof ev.call !== "number" || !roleOf.has(ev.call) || typeof ev.seq !== "number") return false;
      if (ev.kind === "graded" && ev.step !== "round_final") return true;  // the grade of its answer
      const role = roleOf.get(ev.call);
      return calls.every(function (c) { return c.seq <= ev.call || c.seq >= ev.seq || c.role === role; });
    }
    const attached = new Map();
    const inside = new Set();
    for (const x of items) {
      if (x.type === "event" && attachable(x)) {
        if (!attached.has(x.call)) attached.set(x.call, []);
        attached.get(x.call).push(x);
        inside.add(x);
      }
    }
    // Grouped by round, in the order rounds first appear.
    const groups = new Map();
    for (const x of items) {
      if (inside.has(x)) continue;
      const r = x.round === undefined || x.round === null ? 0 : x.round;
      if (!groups.has(r)) groups.set(r, []);
      groups.get(r).push(x);
    }
    for (const [r, list] of groups) {
      const sec = el("section", "round");
      sec.dataset.round = r;
      const calls = list.filter(function (x) { return x.type === "call"; }).length;
      add(sec, el("h4", null, (r ? "Round " + r : "Outside rounds") + " · " + calls + " calls"));
      for (const x of list) {
        const note = x.type === "call" && x.seq === ep.flip ? FLIP_NOTE[ep.trajectory_class] || "this step changed the answer" : null;
        add(sec, x.type === "call" ? callView(x, attached.get(x.seq) || [], note) : eventView(x));
      }
      add(box, sec);
    }
    add(box, el("h4", null, "Final response"), textBlock(ep.response, "response"));
    return box;
  }

  async function episodePanel(run, index) {
    const panel = el("div", "panel");
    if (index === null || index === undefined || index < 0) {
      add(panel, el("p", "muted", "Not in this run."));
      return panel;
    }
    try {
      add(panel, episodeView(await episode(run, index)));
    } catch (err) {
      add(panel, el("p", "error", "Could not read this episode: " + err));
    }
    return panel;
  }

  // -- the table --------------------------------------------------------------------------
  const rows = DATA.rows;
  const repeats = rows.some(function (r) { return r.repeat; });
  function side(s) { return function (r) { return r[s]; }; }
  function field(getRow, key) { return function (r) { const x = getRow(r); return x ? x[key] : null; }; }
  function mark(v) { return v === null || v === undefined ? "" : v ? "✓" : "✗"; }

  const self = function (r) { return r; };
  let columns;
  if (!COMPARE) {
    const hasCeo = rows.some(function (r) { return r.ceo; });
    const hasTraj = rows.some(function (r) { return r.trajectory; });
    columns = [
      { label: "#", get: field(self, "n"), num: true, w: "44px" },
      { label: "problem", get: field(self, "id"), w: "17%" },
      repeats && { label: "rep", get: field(self, "repeat"), num: true, w: "40px" },
      { label: "✓", get: function (r) { return r.correct ? 1 : 0; }, show: function (r) { return mark(r.correct); }, cls: function (r) { return r.correct ? "yes" : "no"; }, num: true, w: "34px" },
      hasTraj && { label: "trajectory", get: field(self, "trajectory"), cls: function () { return "traj"; }, w: "92px" },
      { label: "answer", get: field(self, "answer"), w: "13%" },
      { label: "reference", get: field(self, "reference"), w: "11%" },
      { label: "rounds", get: field(self, "rounds"), num: true, w: "62px" },
      { label: "agents", get: field(self, "agents"), num: true, w: "60px" },
      { label: "tokens", get: field(self, "tokens"), num: true, w: "78px" },
      { label: "wall s", get: field(self, "wall"), num: true, digits: 2, w: "64px" },
      hasCeo && { label: "CEO decisions", get: field(self, "ceo"), w: "150px" },
      { label: "failure", get: field(self, "failure"), w: "108px" },
      { label: "reason", get: field(self, "reason") },
    ].filter(Boolean);
  } else {
    const A = side("a"), B = side("b");
    const order = DATA.changes;
    columns = [
      { label: "#", get: field(self, "n"), num: true, w: "44px" },
      { label: "problem", get: field(self, "id"), w: "17%" },
      repeats && { label: "rep", get: field(self, "repeat"), num: true, w: "40px" },
      { label: "change", get: function (r) { return order.indexOf(r.change); }, show: function (r) { return r.change; }, cls: function (r) { return "change-" + token(r.change); }, num: true, w: "96px" },
      { label: "A ✓", get: field(A, "correct"), show: function (r) { return r.a ? mark(r.a.correct) : "—"; }, num: true, w: "44px" },
      { label: "B ✓", get: field(B, "correct"), show: function (r) { return r.b ? mark(r.b.correct) : "—"; }, num: true, w: "44px" },
      { label: "A answer", get: field(A, "answer"), w: "12%" },
      { label: "B answer", get: field(B, "answer"), w: "12%" },
      { label: "reference", get: function (r) { return (r.a && r.a.reference) || (r.b && r.b.reference); }, w: "10%" },
      { label: "A rounds", get: field(A, "rounds"), num: true, w: "70px" },
      { label: "B rounds", get: field(B, "rounds"), num: true, w: "70px" },
      { label: "A tokens", get: field(A, "tokens"), num: true, w: "80px" },
      { label: "B tokens", get: field(B, "tokens"), num: true, w: "80px" },
      { label: "A failure", get: field(A, "failure"), w: "108px" },
      { label: "B failure", get: field(B, "failure") },
    ].filter(Boolean);
  }

  // -- controls ---------------------------------------------------------------------------
  const bar = el("div", "controls");
  const search = el("input");
  search.id = "filter-text";
  search.type = "search";
  search.placeholder = "filter: problem id, answer, reason, CEO…";
  add(bar, search);
  function select(id, label, options) {
    const s = el("select");
    s.id = id;
    s.setAttribute("aria-label", label);
    for (const [value, text] of options) {
      const o = el("option", null, text);
      o.value = value;
      s.appendChild(o);
    }
    add(bar, s);
    return s;
  }
  let byChange = null;
  let byCorrect = null;
  let byTraj = null;
  if (COMPARE) {
    const flips = rows.filter(function (r) { return r.change === "lost" || r.change === "gained"; }).length;
    const opts = [["", "all problems (" + rows.length + ")"], ["flipped", "flipped (" + flips + ")"]];
    for (const c of DATA.changes) {
      const n = rows.filter(function (r) { return r.change === c; }).length;
      if (n) opts.push([c, c + " (" + n + ")"]);
    }
    byChange = select("filter-change", "change", opts);
  } else {
    const right = rows.filter(function (r) { return r.correct; }).length;
    byCorrect = select("filter-correct", "correctness", [["", "all (" + rows.length + ")"], ["correct", "correct (" + right + ")"], ["wrong", "wrong (" + (rows.length - right) + ")"]]);
    if (rows.some(function (r) { return r.trajectory_class; })) {
      const kinds = [["talked_out", "right, then talked out of it"], ["rescued", "wrong, then rescued"],
        ["recovered", "right, wrong, right again"], ["right_throughout", "right throughout"], ["wrong_throughout", "wrong throughout"]];
      const opts = [["", "any trajectory"]];
      for (const [k, text] of kinds) {
        opts.push([k, text + " (" + rows.filter(function (r) { return r.trajectory_class === k; }).length + ")"]);
      }
      byTraj = select("filter-trajectory", "trajectory", opts);
    }
  }
  function failuresOf(r) {
    return COMPARE ? [r.a && r.a.failure, r.b && r.b.failure] : [r.failure];
  }
  const failOpts = [["", "any outcome"]];
  for (const f of DATA.failures) {
    const n = rows.filter(function (r) { return failuresOf(r).indexOf(f) >= 0; }).length;
    if (n) failOpts.push([f, f + " (" + n + ")"]);
  }
  const byFailure = select("filter-failure", "failure", failOpts);
  const counter = add(bar, el("span", "count")).lastChild;
  counter.id = "count";
  add(app, bar);

  // -- rows -------------------------------------------------------------------------------
  const table = el("table", "problems");
  table.id = "problems";
  const thead = add(table, el("thead")).lastChild;
  const headRow = add(thead, el("tr")).lastChild;
  const tbody = add(table, el("tbody")).lastChild;
  add(app, table);

  function searchable(r) {
    if (!r) return "";
    return [r.id, r.answer, r.reference, r.reason, r.failure, r.ceo].map(asText).join(" ");
  }

  // Rows are built when first shown, and at most PAGE more at a time ("show more"): a run of
  // thousands of problems × repeats opens as fast as a small one.
  const PAGE = 500;
  function buildRow(e, i) {
    const r = e.r;
    const tr = el("tr", "row");
    tr.dataset.i = i;
    tr.dataset.id = r.id;
    tr.tabIndex = 0;
    for (const col of columns) {
      const raw = col.show ? col.show(r) : col.get(r);
      const text = col.num && !col.show ? fmtNum(raw, typeof raw === "number" ? col.digits : undefined) : asText(raw);
      const td = el("td", (col.num && !col.show ? "num " : "") + (col.cls ? col.cls(r) : ""), short(text, CELL_CHARS));
      if (text.length > CELL_CHARS) td.title = text.slice(0, 4000);
      tr.appendChild(td);
    }
    if (COMPARE) tr.classList.add("change-" + token(r.change));
    else tr.classList.add(r.correct ? "yes" : "no");
    return tr;
  }

  const entries = rows.map(function (r, i) {
    const hay = (COMPARE ? [r.id, r.change, searchable(r.a), searchable(r.b)] : [searchable(r)]).join(" ").toLowerCase();
    const e = { r: r, i: i, row: null, detail: null, hay: hay };
    Object.defineProperty(e, "tr", { get: function () { return e.row || (e.row = buildRow(e, i)); } });
    return e;
  });

  const byRow = entries.slice();
  let matched = entries.slice();
  let limit = PAGE;
  const moreRow = el("tr", "more");
  const moreCell = add(moreRow, el("td")).lastChild;
  moreCell.colSpan = columns.length;
  const moreButton = add(moreCell, el("button", "show-more")).lastChild;
  moreButton.type = "button";
  moreButton.addEventListener("click", function () {
    limit += PAGE;
    renderBody();
  });

  function renderBody() {
    const frag = document.createDocumentFragment();
    for (const e of matched.slice(0, limit)) {
      frag.appendChild(e.tr);
      if (e.detail) frag.appendChild(e.detail);
    }
    const rest = matched.length - limit;
    if (rest > 0) {
      moreButton.textContent = "show " + Math.min(rest, PAGE) + " more (" + rest + " not shown)";
      frag.appendChild(moreRow);
    }
    tbody.textContent = "";
    tbody.appendChild(frag);
  }

  let sortCol = -1;
  let sortDir = 1;
  columns.forEach(function (col, ci) {
    const th = el("th", col.num && !col.show ? "num" : null, col.label);
    // Fixed widths (table-layout: fixed): opening an episode must not re-measure every row.
    if (col.w) th.style.width = col.w;
    th.tabIndex = 0;
    th.title = "sort";
    const go = function () {
      sortDir = sortCol === ci ? -sortDir : 1;
      sortCol = ci;
      for (const h of headRow.children) h.classList.remove("asc", "desc");
      th.classList.add(sortDir > 0 ? "asc" : "desc");
      sortBy(col, sortDir);
    };
    th.addEventListener("click", go);
    th.addEventListener("keydown", function (ev) { if (ev.key === "Enter") go(); });
    headRow.appendChild(th);
  });

  function sortBy(col, dir) {
    entries.sort(function (x, y) {
      const a = col.get(x.r), b = col.get(y.r);
      const ea = a === null || a === undefined || a === "", eb = b === null || b === undefined || b === "";
      if (ea || eb) return ea === eb ? x.r.n - y.r.n : ea ? 1 : -1;  // blanks last
      let c;
      if (typeof a === "number" && typeof b === "number") c = a - b;
      else if (typeof a === "boolean" || typeof b === "boolean") c = Number(a) - Number(b);
      else c = String(a).localeCompare(String(b), undefined, { numeric: true });
      return c * dir || x.r.n - y.r.n;
    });
    matched = entries.filter(keep);
    renderBody();
  }

  function keep(e) {
    const q = search.value.trim().toLowerCase();
    const c = byCorrect ? byCorrect.value : "";
    const ch = byChange ? byChange.value : "";
    const f = byFailure.value;
    const t = byTraj ? byTraj.value : "";
    const r = e.r;
    if (t && r.trajectory_class !== t) return false;
    if (q && e.hay.indexOf(q) < 0) return false;
    if (c && (c === "correct") !== Boolean(r.correct)) return false;
    if (ch && (ch === "flipped" ? r.change !== "lost" && r.change !== "gained" : r.change !== ch)) return false;
    return !f || failuresOf(r).indexOf(f) >= 0;
  }

  function applyFilter() {
    matched = entries.filter(keep);
    limit = PAGE;
    counter.textContent = matched.length + " of " + entries.length + " problems";
    renderBody();
  }
  search.addEventListener("input", applyFilter);
  for (const s of [byCorrect, byChange, byFailure, byTraj]) if (s) s.addEventListener("change", applyFilter);

  async function toggle(e) {
    if (e.detail) {
      e.detail.remove();
      e.detail = null;
      e.tr.classList.remove("open");
      return;
    }
    const detail = el("tr", "detail");
    const td = add(detail, el("td")).lastChild;
    td.colSpan = columns.length;
    e.detail = detail;
    e.tr.classList.add("open");
    e.tr.after(detail);
    add(td, el("p", "muted", "loading…"));
    let content;
    if (COMPARE) {
      content = el("div", "side-by-side");
      for (const [run, s] of [[0, "a"], [1, "b"]]) {
        const col = add(el("div", "side"), el("h3", null, (run ? "B: " : "A: ") + DATA.runs[run].label));
        add(col, await episodePanel(run, e.r[s] ? e.r[s].ep : -1));
        add(content, col);
      }
    } else {
      content = await episodePanel(0, e.r.ep);
    }
    td.textContent = "";
    add(td, content);
    detail.dataset.ready = "1";
  }

  tbody.addEventListener("click", function (ev) {
    const tr = ev.target.closest("tr.row");
    if (!tr) return;
    toggle(byRow[Number(tr.dataset.i)]);
  });
  tbody.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter") return;
    const tr = ev.target.closest("tr.row");
    if (tr) toggle(byRow[Number(tr.dataset.i)]);
  });

  applyFilter();
  performance.mark("viewer-ready");
  document.documentElement.dataset.ready = "1";
  // After the first frame with the table laid out: what a reader waits for.
  requestAnimationFrame(function () {
    setTimeout(function () { performance.mark("viewer-painted"); }, 0);
  });
})();
