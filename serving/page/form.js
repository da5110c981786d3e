// The structured request: the RFA fields per item, the IMR application per case, the health-plan (DMHC) fields,
// byte counters and the client-side checks. The checks repeat the server's (serving/schemas.py,
// features/structured.py) with the server's own words, so a message reads the same whichever side finds it; the
// server stays the authority.
"use strict";

(() => {
  const { $, $$, el, byteLength } = window.IMR;

  // The same formats as features/structured.py (codes are upper-cased and trimmed first, as there).
  const CPT = /^\d{5}(?:[- ]?[A-Z0-9]{2})?$/;
  const HCPCS = /^[A-V]\d{4}(?:[- ]?[A-Z0-9]{2})?$/;
  const ICD10 = /^[A-Z]\d[A-Z0-9](?:\.?[A-Z0-9]{1,4})?$/;
  const MAX_ICD10 = 12;
  const MAX_COUNT = 10_000;
  const SHORT_TEXT = 200;
  const LONG_TEXT = 5000;
  const CPT_REASON =
    "must be a CPT code (5 digits, optionally a 2-character modifier, e.g. 97110 or 97110-GP) or a HCPCS Level II code (a letter A-V and 4 digits, e.g. J1100)";
  const ICD10_REASON =
    "must be an ICD-10-CM code: a letter, a digit, a letter or digit, then optionally '.' and 1-4 letters or digits (e.g. M54.5, S39.012A)";
  const TEXT_LIMITS = { body_part: SHORT_TEXT, frequency: SHORT_TEXT, duration: SHORT_TEXT, prior_outcome: LONG_TEXT };
  const COUNTS = { quantity: 1, prior_sessions: 0 }; // the smallest allowed value of each count
  // The DMHC model's case-level categories (features/dmhc.py); treatment_category is per item in the API.
  const DMHC_CASE = ["diagnosis_category", "age_range", "gender"];
  const CASE_TEXT = { provider_specialty: SHORT_TEXT, claim_number: 64 };
  // Text fields the server limits in UTF-8 bytes (Settings.max_text_bytes), by the API's field name.
  const BYTE_FIELDS = { summary: "#summary", ur_text: "#ur-text", claims_guideline: "#guideline" };

  let maxBytes = null;

  // ---- reading the form -------------------------------------------------------------------------------------

  function icd10Codes(text) {
    return text.split(/[;,]/).map((c) => c.trim().toUpperCase()).filter(Boolean);
  }

  // The structured fields of one item row, only those with a value (an empty field is "not stated", not "").
  function itemFields(row, jurisdiction) {
    const out = {};
    if (jurisdiction === "dmhc") {
      const category = dmhcValue("treatment_category");
      if (category) out.treatment_category = category;
      return out;
    }
    for (const input of $$("[data-field]", row)) {
      const name = input.dataset.field;
      const value = input.value.trim();
      if (!value) continue;
      if (name === "icd10") out.icd10 = icd10Codes(value);
      else if (name === "cpt") out.cpt = value.toUpperCase();
      else if (name in COUNTS) out[name] = Number(value);
      else out[name] = value;
    }
    return out;
  }

  function dmhcValue(name) {
    const input = $(`[data-dmhc-input="${name}"]`);
    return input ? input.value.trim() : "";
  }

  // The per-case fields of the active jurisdiction: the IMR application for DWC, the categories for DMHC.
  function caseFields(jurisdiction) {
    const out = {};
    if (jurisdiction === "dmhc") {
      for (const name of DMHC_CASE) if (dmhcValue(name)) out[name] = dmhcValue(name);
      if ($("#imr-type").value) out.imr_type = $("#imr-type").value;
      return out;
    }
    for (const input of $$("#case-details [data-case]")) {
      const name = input.dataset.case;
      if (input.type === "checkbox") {
        if (input.checked) out[name] = true;
      } else if (input.value.trim()) out[name] = input.value.trim();
    }
    return out;
  }

  // ---- checks (the server's messages) -----------------------------------------------------------------------

  // The server's reason for a code it would refuse, or null (kind: "cpt" or "icd10", one code).
  function codeReason(kind, value) {
    const code = value.trim().toUpperCase();
    if (kind === "cpt") return CPT.test(code) || HCPCS.test(code) ? null : CPT_REASON;
    return ICD10.test(code) ? null : ICD10_REASON;
  }

  function countReason(input, min) {
    if (input.validity.badInput || !Number.isInteger(Number(input.value))) return "must be an integer";
    const value = Number(input.value);
    if (value < min) return `Input should be greater than or equal to ${min}`;
    if (value > MAX_COUNT) return `Input should be less than or equal to ${MAX_COUNT}`;
    return null;
  }

  function itemErrors(row, index, grow = true) {
    const errors = [];
    const at = (name) => `items[${index}].${name}`;
    for (const input of $$("[data-field]", row)) {
      const name = input.dataset.field;
      const value = input.value.trim();
      let reason = null;
      if (!value && !(input.validity && input.validity.badInput)) reason = null;
      else if (name === "cpt") reason = codeReason("cpt", value);
      else if (name in COUNTS) reason = countReason(input, COUNTS[name]);
      else if (name in TEXT_LIMITS && value.length > TEXT_LIMITS[name]) {
        reason = `String should have at most ${TEXT_LIMITS[name]} characters`;
      } else if (name === "icd10") {
        const codes = icd10Codes(value);
        if (codes.length > MAX_ICD10) errors.push({ field: at("icd10"), reason: `List should have at most ${MAX_ICD10} items after validation, not ${codes.length}` });
        codes.forEach((code, i) => {
          const bad = codeReason("icd10", code);
          if (bad) errors.push({ field: `${at("icd10")}[${i}]`, reason: bad });
        });
      }
      if (reason) errors.push({ field: at(name), reason });
      input.setAttribute("aria-invalid", String(Boolean(reason) || errors.some((e) => e.field.startsWith(at(name)))));
    }
    showItemErrors(row, errors, grow);
    return errors;
  }

  // Beside the fields as well as in the alert: on a phone the alert may be a screen away. While editing (grow
  // false) a list that is empty stays empty: text appearing on blur would move the button being clicked.
  function showItemErrors(row, errors, grow) {
    const list = $(".field-errors", row);
    if (!grow && !list.children.length) return;
    list.replaceChildren(...errors.map((e) => el("li", { "data-error": e.field, text: `${e.field}: ${e.reason}` })));
  }

  function caseErrors() {
    const errors = [];
    for (const [name, limit] of Object.entries(CASE_TEXT)) {
      const input = $(`#case-details [data-case="${name}"]`);
      if (input && input.value.trim().length > limit) errors.push({ field: name, reason: `String should have at most ${limit} characters` });
    }
    const injured = $("#date-of-injury").value;
    const decided = $("#ur-decision-date").value;
    if (injured && decided && injured > decided) errors.push({ field: "body", reason: "date_of_injury must not be after ur_decision_date" });
    return errors;
  }

  function bytesErrors(body) {
    if (!maxBytes) return [];
    const too = `is longer than ${maxBytes} bytes`;
    const errors = Object.keys(BYTE_FIELDS)
      .filter((name) => byteLength(body[name] || "") > maxBytes)
      .map((name) => ({ field: name, reason: too }));
    body.items.forEach((item, i) => {
      if (byteLength(item.item_text) > maxBytes) errors.push({ field: `items[${i}].item_text`, reason: too });
    });
    return errors;
  }

  // Every problem the page can see before sending, in the server's field names and words.
  function validate(body, rows) {
    const errors = bytesErrors(body);
    if (body.jurisdiction === "dwc") {
      rows.forEach((row, i) => errors.push(...itemErrors(row, i)));
      errors.push(...caseErrors());
    }
    return errors;
  }

  // ---- byte counters ----------------------------------------------------------------------------------------

  function updateCounter(input, counter) {
    if (!counter || !maxBytes) return;
    const used = byteLength(input.value);
    counter.textContent = `${used.toLocaleString("en-US")} of ${maxBytes.toLocaleString("en-US")} bytes`;
    counter.classList.toggle("over", used > maxBytes);
    counter.classList.toggle("near", used <= maxBytes && used > maxBytes * 0.9);
  }

  function watchCounter(input, counter) {
    input.addEventListener("input", () => updateCounter(input, counter));
    updateCounter(input, counter);
  }

  function counterFor(id) {
    return $(`.bytes[data-for="${id}"]`);
  }

  // ---- items and jurisdiction -------------------------------------------------------------------------------

  // Wires a new item row: its byte counter, and what-if scoring on every structured field.
  function setupItem(row, onChange) {
    watchCounter($(".item-text", row), $(".item-bytes", row));
    for (const input of $$("[data-field]", row)) {
      input.addEventListener("input", onChange);
      input.addEventListener("change", () => itemErrors(row, $$("#items .item-row").indexOf(row), false));
    }
  }

  function fillItem(row, item) {
    for (const input of $$("[data-field]", row)) {
      const value = item[input.dataset.field];
      input.value = value === null || value === undefined ? "" : Array.isArray(value) ? value.join("; ") : String(value);
    }
    if ([...$$("[data-field]", row)].some((input) => input.value)) $(".rfa", row).open = true;
    updateCounter($(".item-text", row), $(".item-bytes", row));
    markAllEmpty();
  }

  function fillCase(body) {
    for (const input of $$("[data-case]")) {
      const value = body[input.dataset.case];
      if (input.type === "checkbox") input.checked = value === true;
      else input.value = value === null || value === undefined ? "" : String(value);
    }
    if ($$("#case-details [data-case]").some((i) => (i.type === "checkbox" ? i.checked : i.value))) $("#case-details").open = true;
    for (const name of [...DMHC_CASE, "treatment_category"]) {
      const input = $(`[data-dmhc-input="${name}"]`);
      const item = (body.items || [])[0] || {};
      if (input) input.value = (name === "treatment_category" ? item[name] : body[name]) || "";
    }
    for (const [, selector] of Object.entries(BYTE_FIELDS)) updateCounter($(selector), counterFor(selector.slice(1)));
    markAllEmpty();
  }

  // The choices /ui-config lists for a field, under its own name ("diagnosis_category"), its plural
  // ("diagnosis_categories") or its stem ("diagnosis"); each a string or an object with a name.
  function choicesFor(categories, name) {
    const listed = [name, `${name.replace(/y$/, "ie")}s`, name.replace(/_category$/, "")].map((key) => categories[key]).find(Array.isArray);
    if (!listed) return [];
    return listed.map((c) => (typeof c === "string" ? c : c && (c.name || c.value || c.label))).filter((c) => typeof c === "string" && c);
  }

  // A DMHC category: a list to choose from when /ui-config gives one (dmhc_categories), else free text.
  function dmhcInput(name, choices) {
    if (choices.length) {
      return el("select", { "data-dmhc-input": name }, el("option", { value: "", text: "Not stated (from the text)" }), ...choices.map((c) => el("option", { value: c, text: c })));
    }
    return el("input", { type: "text", "data-dmhc-input": name, placeholder: "Not stated (from the text)" });
  }

  function renderDmhc(config, onChange) {
    const categories = (config && config.dmhc_categories) || {};
    for (const slot of $$(".dmhc-slot")) {
      const input = dmhcInput(slot.dataset.dmhc, choicesFor(categories, slot.dataset.dmhc));
      input.addEventListener("input", onChange);
      slot.replaceChildren(input);
    }
    const types = choicesFor(categories, "imr_type"); // spelled as in the DMHC data when the server lists them
    if (types.length) $("#imr-type").replaceChildren(el("option", { value: "", text: "Not stated" }), ...types.map((t) => el("option", { value: t, text: t })));
  }

  // Health-plan requests read categories, not the workers'-comp RFA, and speak of the plan's criteria, not MTUS.
  function applyJurisdiction() {
    const dmhc = $("#jurisdiction").value === "dmhc";
    for (const node of $$(".dmhc-only")) node.hidden = !dmhc;
    for (const node of $$(".dwc-only")) node.hidden = dmhc;
    const guideline = $("#guideline");
    guideline.placeholder = dmhc ? guideline.dataset.placeholderDmhc : guideline.dataset.placeholderDwc;
    document.body.dataset.jurisdiction = dmhc ? "dmhc" : "dwc";
  }

  // Marks empty fields, so that print leaves them out (CSS cannot see an input's value, only this attribute).
  function markEmpty(node) {
    if (node && node.matches && node.matches(".grid input, .grid select")) {
      node.toggleAttribute("data-empty", node.type === "checkbox" ? !node.checked : !node.value);
    }
  }

  function markAllEmpty() {
    for (const node of $$(".grid input, .grid select")) markEmpty(node);
  }

  function setup(config, onChange) {
    for (const kind of ["input", "change"]) document.addEventListener(kind, (event) => markEmpty(event.target), true);
    window.addEventListener("beforeprint", markAllEmpty);
    maxBytes = config && config.max_text_bytes ? config.max_text_bytes : null;
    for (const id of ["summary", "ur-text", "guideline"]) watchCounter($(`#${id}`), counterFor(id));
    for (const row of $$("#items .item-row")) updateCounter($(".item-text", row), $(".item-bytes", row));
    renderDmhc(config, onChange);
    for (const input of $$("[data-case]")) input.addEventListener(input.tagName === "SELECT" || input.type === "checkbox" ? "change" : "input", onChange);
    applyJurisdiction();
    markAllEmpty();
  }

  window.IMR.form = { codeReason, itemFields, caseFields, validate, setup, setupItem, fillItem, fillCase, applyJurisdiction };
})();
