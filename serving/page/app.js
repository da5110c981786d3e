// IMR Prescreen page: plain JavaScript, no build step, no network beyond this server.
// Data from the API is only ever inserted with textContent (never innerHTML): it may quote what people typed.
"use strict";

(() => {
  const KEY_STORAGE = "imr-api-key";
  const LIVE_DELAY_MS = 300;
  // kept: the last scored case (request and answer), for the PDF report, exports and saving.
  const state = { config: null, seq: 0, controller: null, scored: false, timer: null, previous: new Map(), kept: null };
  const { $, $$, el, form, keep, evaluation } = window.IMR;

  // ---- API access -------------------------------------------------------------------------------------------

  function apiKey() {
    return sessionStorage.getItem(KEY_STORAGE) || "";
  }

  async function api(path, options = {}) {
    const headers = new Headers(options.headers || {});
    const key = apiKey();
    if (key) headers.set("X-API-Key", key);
    const response = await fetch(path, { ...options, headers });
    if (response.status === 401) showKeyPanel(true);
    return response;
  }

  async function readJson(response) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }

  function errorsOf(data, response) {
    if (data && Array.isArray(data.errors) && data.errors.length) return data.errors;
    return [{ field: "server", reason: `answered HTTP ${response.status}` }];
  }

  // ---- messages ---------------------------------------------------------------------------------------------

  function showErrors(errors) {
    const box = $("#alert");
    box.replaceChildren(
      el("strong", { text: "Please check the request:" }),
      el("ul", {}, ...errors.map((e) => el("li", { class: "error", "data-field": e.field, text: `${e.field}: ${e.reason}` }))),
    );
    box.hidden = false;
  }

  function clearAlert() {
    const box = $("#alert");
    box.hidden = true;
    box.replaceChildren();
  }

  function showKeyPanel(show) {
    $("#key-panel").hidden = !show;
    if (show) $("#api-key").focus();
  }

  // ---- tabs -------------------------------------------------------------------------------------------------

  // One tab in the Tab order (the selected one); arrow keys, Home and End move between tabs (WAI-ARIA tabs).
  function showView(name) {
    for (const tab of $$(".tabs [role=tab]")) {
      const selected = tab.dataset.view === name;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
    }
    for (const view of $$(".view")) view.hidden = view.id !== `view-${name}`;
    clearAlert();
    if (name === "evaluation") loadEvaluation();
  }

  function tabKeys(event) {
    const tabs = $$(".tabs [role=tab]");
    const at = tabs.indexOf(event.target);
    const moves = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 };
    if (at === -1 || !(event.key in moves)) return;
    event.preventDefault();
    const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
    showView(next.dataset.view);
    next.focus();
  }

  // ---- the request form -------------------------------------------------------------------------------------

  function updateAddButton() {
    const max = state.config ? state.config.max_items : 21;
    $("#add-item").disabled = $$("#items .item-row").length >= max;
  }

  // Focus stays in the list after Remove: on the next item, else on "Add item" (never lost to the page body).
  function removeItem(row) {
    const rows = $$("#items .item-row");
    const next = rows[rows.indexOf(row) + 1];
    row.remove();
    if (!$$("#items .item-row").length) addItem().focus();
    else if (next) $(".item-text", next).focus();
    else $("#add-item").focus();
    updateAddButton();
    scheduleLive();
  }

  function addItem(item = {}) {
    const row = $("#item-row").content.firstElementChild.cloneNode(true);
    const input = $(".item-text", row);
    input.value = item.item_text || "";
    input.addEventListener("input", scheduleLive);
    $(".remove-item", row).addEventListener("click", () => removeItem(row));
    $("#items").append(row);
    form.setupItem(row, scheduleLive);
    form.fillItem(row, item);
    form.applyJurisdiction();
    updateAddButton();
    return input;
  }

  // The rows with text become the items; each carries its structured fields when the jurisdiction reads them.
  function collectRequest() {
    const jurisdiction = $("#jurisdiction").value;
    const rows = $$("#items .item-row").filter((row) => $(".item-text", row).value.trim());
    const items = rows.map((row) => ({ item_text: $(".item-text", row).value.trim(), ...form.itemFields(row, jurisdiction) }));
    return {
      body: {
        jurisdiction,
        summary: $("#summary").value,
        ur_text: $("#ur-text").value,
        claims_guideline: $("#guideline").value,
        ...form.caseFields(jurisdiction),
        items,
      },
      texts: items.map((item) => item.item_text),
      rows,
    };
  }

  // A reopened saved case: the form as it was saved, then scored again (the model may have changed since).
  function openCase(body) {
    $("#jurisdiction").value = body.jurisdiction || "dwc";
    form.applyJurisdiction();
    $("#summary").value = body.summary || "";
    $("#ur-text").value = body.ur_text || "";
    $("#guideline").value = body.claims_guideline || "";
    $("#items").replaceChildren();
    for (const item of body.items && body.items.length ? body.items : [{}]) addItem(item);
    form.fillCase(body);
    showView("prescreen");
    prescreen(false);
  }

  // An answer that no longer matches the form must not stay on screen (or be exported, saved or printed).
  function clearResults() {
    state.kept = null;
    $("#results").replaceChildren();
    $("#result-area").hidden = true;
    state.previous.clear();
  }

  function busy(on) {
    $("#busy").hidden = !on;
    $("#submit").disabled = on && !state.scored;
  }

  async function prescreen(silent) {
    const { body, texts, rows } = collectRequest();
    if (!texts.length) {
      if (!silent) showErrors([{ field: "items", reason: "add at least one disputed item" }]);
      return;
    }
    const problems = form.validate(body, rows);
    if (problems.length) {
      clearResults();
      showErrors(problems);
      return;
    }
    const seq = ++state.seq;
    if (state.controller) state.controller.abort();
    const controller = new AbortController();
    state.controller = controller;
    busy(true);
    try {
      const response = await api("/v1/prescreen", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      const data = await readJson(response);
      if (seq !== state.seq) return; // a newer edit is on its way
      if (!response.ok) {
        clearResults();
        showErrors(errorsOf(data, response));
        return;
      }
      clearAlert();
      renderResults(data, texts);
      state.kept = { body, answer: data };
      state.scored = true;
      if (!silent) $("#results-heading").focus(); // a what-if re-score never takes focus from the field being typed in
    } catch (error) {
      if (error.name !== "AbortError") {
        clearResults();
        showErrors([{ field: "network", reason: "the server could not be reached" }]);
      }
    } finally {
      if (seq === state.seq) busy(false);
    }
  }

  // What-if: once a request has been scored, every edit re-scores it after a short pause.
  function scheduleLive() {
    if (!state.scored || !$("#live").checked) return;
    clearTimeout(state.timer);
    state.timer = setTimeout(() => prescreen(true), LIVE_DELAY_MS);
  }

  // ---- results ----------------------------------------------------------------------------------------------

  function percent(p) {
    return `${Math.round(p * 100)}%`;
  }

  function resultCard(container, index) {
    let card = container.querySelector(`.result[data-index="${index}"]`);
    if (!card) {
      card = el(
        "article",
        { class: "result", "data-index": index },
        el("h3", { class: "item-title" }),
        el(
          "div",
          { class: "summary-line" },
          el("span", { class: "probability" }),
          el("span", { class: "probability-caption", text: "chance the denial is upheld" }),
          el("span", { class: "band" }),
          el("span", { class: "delta" }),
        ),
        el("div", { class: "bar", role: "img" }, el("div", { class: "fill" })),
        el("p", { class: "context" }),
        el("ul", { class: "reasons", "aria-label": "Likely reasons" }),
        el("ul", { class: "missing" }),
        el("div", { class: "panels" }),
      );
      container.append(card);
    }
    return card;
  }

  function fillResult(card, result, title) {
    card.className = `result ${result.band}`;
    card.dataset.band = result.band;
    card.dataset.p = result.p_upheld === null ? "" : String(result.p_upheld);
    const p = result.p_upheld;
    $(".probability", card).textContent = p === null ? "—" : percent(p);
    $(".probability-caption", card).hidden = p === null;
    $(".band", card).textContent = result.band_label;
    $(".bar", card).setAttribute("aria-label", p === null ? "not scored" : `${percent(p)} likely upheld`);
    $(".bar .fill", card).style.width = p === null ? "0%" : `${(p * 100).toFixed(1)}%`;
    const key = `${card.closest(".results").id}:${card.dataset.index}`;
    const before = state.previous.get(key);
    const delta = $(".delta", card);
    delta.textContent = "";
    if (p !== null && before !== undefined && before !== null && Math.round((p - before) * 100) !== 0) {
      const points = Math.round((p - before) * 100);
      delta.textContent = `${points > 0 ? "▲ +" : "▼ "}${points} points since the last change`;
    }
    state.previous.set(key, p);
    $(".context", card).textContent = contextLine(result);
    renderTitle($(".item-title", card), title, result.checklist || []);
    $(".reasons", card).replaceChildren(...(result.reasons || []).map(reasonItem));
    $(".missing", card).replaceChildren(...result.missing_information.map((m) => el("li", { text: m })));
    renderPanels($(".panels", card), result);
  }

  // The interval, the category's prior and the base rate beside every estimate: 9 in 10 workers'-comp denials
  // are upheld, so "likely upheld" alone says little.
  function contextLine(result) {
    const parts = [];
    if (result.p_low !== null && result.p_low !== undefined && result.p_high !== null && result.p_high !== undefined) {
      parts.push(`95 % interval ${percent(result.p_low)}–${percent(result.p_high)}`);
    }
    if (result.prior !== null && result.prior !== undefined) parts.push(`this kind of item: ${percent(result.prior)} upheld`);
    if (result.base_rate !== null && result.base_rate !== undefined) parts.push(`all IMR items: ${percent(result.base_rate)} upheld`);
    return parts.join(" · ");
  }

  // ---- explanations -----------------------------------------------------------------------------------------

  function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }

  // The item text with the words that satisfy a passed check marked (text nodes only, never HTML).
  function renderTitle(node, title, checklist) {
    const ranges = [];
    for (const check of checklist) {
      if (check.status !== "passed" || !check.evidence || check.evidence_in !== "item_text") continue;
      const pattern = new RegExp(check.evidence.trim().split(/\s+/).map(escapeRegExp).join("\\s+"), "i");
      const match = pattern.exec(title);
      if (match) ranges.push([match.index, match.index + match[0].length, check.title]);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    const parts = [];
    let at = 0;
    for (const [from, to, why] of ranges) {
      if (from < at) continue; // overlapping evidence: the first one wins
      if (from > at) parts.push(title.slice(at, from));
      parts.push(el("mark", { class: "evidence", title: why, text: title.slice(from, to) }));
      at = to;
    }
    if (at < title.length) parts.push(title.slice(at));
    node.replaceChildren(...parts);
  }

  function reasonItem(r) {
    const answered = Array.isArray(r.answered_by) && r.answered_by.length > 0;
    const hasP = r.probability !== null && r.probability !== undefined;
    const badge = answered
      ? "answered by your request"
      : r.source === "checklist"
        ? "a check failed"
        : hasP
          ? `reviewers would cite: ${percent(r.probability)}`
          : "reviewers cite";
    const why = answered
      ? "The request already documents what this reason asks for."
      : r.source === "checklist"
        ? "A documentation check on the request failed; reviewers give this reason when it is missing."
        : "How likely a reviewer is to give this reason for this request, learned from past rationales.";
    return el(
      "li",
      {
        class: `reason source-${r.source || "model"}${answered ? " answered" : ""}`,
        "data-code": r.code,
        "data-source": r.source || "model",
        "data-answered": answered ? "true" : "false",
      },
      el("span", { class: "reason-label", text: r.label }),
      " ",
      el("span", { class: "source-badge", title: why, text: badge }),
    );
  }

  function fixItem(f, p) {
    const change = f.changes_estimate ? `${percent(p)} → ${percent(f.p_after)}` : "reviewers cite it (the estimate does not read it)";
    return el(
      "li",
      { class: "fix", "data-check": f.check, "data-p-after": String(f.p_after) },
      el("span", { class: "fix-advice", text: f.advice }),
      el("span", { class: "fix-effect", text: `: ${change}` }),
      f.detail ? el("div", { class: "advice", text: f.detail }) : null,
    );
  }

  function attributionItem(a) {
    const arrow = a.direction === "lowers" ? "↓ lowers the risk of denial" : "↑ raises the risk of denial";
    const size = a.effect === null || a.effect === undefined ? "" : ` (${Math.abs(Math.round(a.effect * 100))} points)`;
    return el(
      "li",
      { class: `attribution ${a.direction}`, "data-check": a.check || "" },
      el("span", { class: "attribution-statement", text: a.statement }),
      el("span", { class: "attribution-direction", text: ` ${arrow}${size}` }),
    );
  }

  const FIELD_NAMES = { summary: "in the summary", claims_guideline: "in the guideline", item_text: "in the request" };

  function checkItem(c) {
    const passed = c.status === "passed";
    const li = el(
      "li",
      { class: `check ${passed ? "check-passed" : "check-missing"}`, "data-code": c.code, "data-status": c.status },
      el("span", { class: "mark", "aria-hidden": "true", text: passed ? "✓" : "✗" }),
      el("span", { class: "check-title", text: c.title }),
    );
    if (passed && c.evidence) {
      li.append(" — ", el("q", { class: "evidence", text: c.evidence }));
      if (c.evidence_in && c.evidence_in !== "item_text") li.append(el("span", { class: "where", text: ` ${FIELD_NAMES[c.evidence_in]}` }));
    }
    if (!passed && c.evidence) li.append(" — ", el("q", { class: "evidence", text: c.evidence }));
    if (c.note) li.append(el("div", { class: "note", text: c.note }));
    if (!passed && c.advice) li.append(el("div", { class: "advice", text: c.advice }));
    return li;
  }

  function termItem(t) {
    return el(
      "li",
      { class: `term toward-${t.toward}`, title: `${t.feature}: ${t.weight}` },
      el("span", { class: "term-label", text: t.label }),
      el("span", { class: "term-direction", text: t.toward === "upheld" ? " ↑ upheld" : " ↓ overturned" }),
    );
  }

  function similarItem(s) {
    const outcome = (s.determination || "").toLowerCase();
    return el(
      "li",
      { class: "similar-hit", "data-case": s.case_id || "" },
      el(
        "div",
        { class: "hit-head" },
        el("span", { class: `outcome-badge ${outcome}`, text: s.determination }),
        s.decision_date ? el("span", { class: "hit-date", text: s.decision_date }) : s.report_year ? el("span", { class: "hit-date", text: String(s.report_year) }) : null,
        s.case_id ? el("span", { class: "hit-case", text: `Case ${s.case_id}` }) : null,
        s.similarity === null || s.similarity === undefined ? null : el("span", { class: "hit-similarity", text: `${percent(s.similarity)} similar` }),
      ),
      el("div", { class: "hit-item", text: s.item_text }),
      s.rationale_excerpt ? el("q", { class: "hit-excerpt", text: s.rationale_excerpt }) : null,
      s.reviewer_guideline ? el("div", { class: "hit-guideline", text: `Guideline cited: ${s.reviewer_guideline}` }) : null,
    );
  }

  // Evidence panels: the checklist (always, when a check applies), the model's top terms and similar cases.
  function renderPanels(container, result) {
    const panels = [];
    const fixes = result.fixes || [];
    if (fixes.length && result.p_upheld !== null) {
      const all = result.p_all_fixed;
      panels.push(
        el(
          "section",
          { class: "panel fixes" },
          el("h4", { text: "The way to approvable: fix these first" }),
          el("ol", {}, ...fixes.map((f) => fixItem(f, result.p_upheld))),
          all === null || all === undefined ? null : el("p", { class: "all-fixed", text: `With every fix: ${percent(all)} likely upheld (now ${percent(result.p_upheld)}).` }),
        ),
      );
    }
    const attributions = result.attributions || [];
    if (attributions.length) {
      panels.push(
        el(
          "section",
          { class: "panel attributions" },
          el("h4", { text: "What moved the estimate" }),
          el("ul", {}, ...attributions.map(attributionItem)),
        ),
      );
    }
    const checklist = result.checklist || [];
    if (checklist.length) {
      const passed = checklist.filter((c) => c.status === "passed").length;
      panels.push(
        el(
          "section",
          { class: "panel checklist" },
          el("h4", {}, "Documentation checklist ", el("span", { class: "count", text: `${passed} of ${checklist.length} passed` })),
          el("ul", {}, ...checklist.map(checkItem)),
        ),
      );
    }
    if (Array.isArray(result.top_terms) && result.top_terms.length) {
      panels.push(
        el(
          "section",
          { class: "panel top-terms" },
          el("h4", { text: "What moved the estimate" }),
          el("ul", { class: "terms" }, ...result.top_terms.map(termItem)),
        ),
      );
    }
    if (Array.isArray(result.similar) && result.similar.length) {
      panels.push(
        el(
          "section",
          { class: "panel similar" },
          el("h4", { text: "Similar past determinations" }),
          el("ol", {}, ...result.similar.map(similarItem)),
        ),
      );
    }
    container.replaceChildren(...panels);
  }

  // The filing deadline, when the answer carries one (the server computes it from the UR decision date).
  function renderDeadline(data) {
    const line = $("#deadline");
    line.hidden = !data.filing_deadline;
    if (!data.filing_deadline) return;
    const days = data.days_left;
    const left = days === null || days === undefined ? "" : days < 0 ? ` (passed ${-days} day${days === -1 ? "" : "s"} ago)` : ` (${days} day${days === 1 ? "" : "s"} left)`;
    line.textContent = `File the IMR application by ${data.filing_deadline}${left}.`;
    line.classList.toggle("passed", typeof days === "number" && days < 0);
  }

  function renderResults(data, texts) {
    $("#result-area").hidden = false;
    renderDeadline(data);
    const container = $("#results");
    data.items.forEach((result, i) => fillResult(resultCard(container, i), result, texts[i]));
    for (const card of $$(".result", container)) {
      if (Number(card.dataset.index) >= data.items.length) card.remove();
    }
    $("#model-line").textContent = `Answered by ${data.model.name} version ${data.model.version} (${data.model.source.replace("_", " ")}).`;
  }

  // ---- letters ----------------------------------------------------------------------------------------------

  async function checkLetter(event) {
    event.preventDefault();
    const file = $("#letter-file").files[0];
    if (!file) {
      showErrors([{ field: "file", reason: "choose a letter first" }]);
      return;
    }
    const form = new FormData();
    form.append("file", file, file.name);
    $("#letter-submit").disabled = true;
    try {
      const response = await api("/v1/letters", { method: "POST", body: form });
      const data = await readJson(response);
      if (!response.ok) {
        showErrors(errorsOf(data, response));
        $("#letter-results").replaceChildren();
        return;
      }
      clearAlert();
      renderLetter(data);
    } catch {
      showErrors([{ field: "network", reason: "the server could not be reached" }]);
    } finally {
      $("#letter-submit").disabled = false;
    }
  }

  function renderLetter(data) {
    const rows = data.items.map((item, i) => {
      const p = item.prediction.p_upheld;
      const agree = item.agrees === null ? "—" : item.agrees ? "yes" : "no";
      return el(
        "tr",
        { class: "letter-item", "data-band": item.prediction.band },
        el("td", { class: "num", text: i + 1 }),
        el("td", { text: item.item_text }),
        el("td", { class: "num predicted", text: p === null ? "—" : percent(p) }),
        el("td", { text: item.prediction.band_label }),
        el("td", { class: "actual", text: item.actual || "not stated" }),
        el("td", { class: `agrees agree-${agree}`, text: agree }),
      );
    });
    const scored = data.items.filter((i) => i.agrees !== null);
    const right = scored.filter((i) => i.agrees).length;
    $("#letter-results").replaceChildren(
      el("p", { class: "letter-summary", text: `${data.source}${data.case_id ? ` — case ${data.case_id}` : ""}: the model agrees with the letter on ${right} of ${scored.length} scored item(s).` }),
      el(
        "div",
        { class: "table-scroll" },
        el(
          "table",
          { class: "letter-table" },
          el(
            "thead",
            {},
            el("tr", {}, ...["#", "Item", "p(upheld)", "Band", "Actual outcome", "Agrees"].map((h) => el("th", { text: h }))),
          ),
          el("tbody", {}, ...rows),
        ),
      ),
      el("p", { class: "model-ref", text: `Model: ${data.model.name} version ${data.model.version}` }),
      el("h2", { class: "letter-details-title", text: "Item by item: checklist, reasons and similar past determinations" }),
      el("div", { id: "letter-cards", class: "results" }),
    );
    const cards = $("#letter-cards");
    data.items.forEach((item, i) => {
      const card = resultCard(cards, i);
      fillResult(card, item.prediction, item.item_text);
      $(".summary-line", card).append(el("span", { class: "actual-outcome", text: `Letter's outcome: ${item.actual || "not stated"}` }));
    });
  }

  // ---- evaluation -------------------------------------------------------------------------------------------

  async function loadEvaluation() {
    const root = $("#evaluation");
    root.replaceChildren(el("p", { class: "busy", text: "Loading…" }));
    let response;
    try {
      response = await api("/v1/models");
    } catch {
      root.replaceChildren(el("p", { text: "The server could not be reached." }));
      return;
    }
    const data = await readJson(response);
    if (!response.ok) {
      root.replaceChildren();
      showErrors(errorsOf(data, response));
      return;
    }
    evaluation.render(root, data, api);
  }

  // ---- start ------------------------------------------------------------------------------------------------

  async function start() {
    for (const tab of $$(".tabs [role=tab]")) tab.addEventListener("click", () => showView(tab.dataset.view));
    $(".tabs").addEventListener("keydown", tabKeys);
    $("#add-item").addEventListener("click", () => addItem().focus());
    $("#prescreen-form").addEventListener("submit", (event) => {
      event.preventDefault();
      clearTimeout(state.timer);
      prescreen(false);
    });
    for (const id of ["#summary", "#ur-text", "#guideline"]) $(id).addEventListener("input", scheduleLive);
    $("#jurisdiction").addEventListener("change", () => {
      form.applyJurisdiction();
      clearResults();
      scheduleLive();
    });
    $("#letter-form").addEventListener("submit", checkLetter);
    $("#key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      sessionStorage.setItem(KEY_STORAGE, $("#api-key").value.trim());
      $("#api-key").value = "";
      showKeyPanel(false);
      clearAlert();
      if (!$("#view-evaluation").hidden) loadEvaluation();
    });
    addItem();
    try {
      const response = await fetch("/ui-config");
      state.config = await response.json();
      for (const option of $$("#jurisdiction option")) option.hidden = !state.config.jurisdictions.includes(option.value);
      const first = $$("#jurisdiction option").find((o) => !o.hidden);
      if (first && $("#jurisdiction option:checked").hidden) $("#jurisdiction").value = first.value;
      if (state.config.auth_required && !apiKey()) showKeyPanel(true);
      updateAddButton();
    } catch {
      /* the form still works with the defaults */
    }
    form.setup(state.config, scheduleLive);
    keep.setup({ current: () => state.kept, open: openCase, api, showErrors });
    document.body.dataset.ready = "true";
  }

  start();
})();
