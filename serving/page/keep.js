// A result to keep: the PDF report (from the server), CSV and JSON export (made here), and cases saved in this
// browser's own storage. Exports and saved cases never leave the machine; request text never goes into a URL.
"use strict";

(() => {
  const { $, el, download } = window.IMR;
  const SAVED_KEY = "imr-saved-cases";
  const MAX_SAVED = 50;
  const CSV_COLUMNS = [
    "item", "item_text", "cpt", "icd10", "p_upheld", "p_low", "p_high", "band", "prior", "base_rate",
    "reasons", "missing_checks", "fixes", "model", "model_version", "claim_number", "filing_deadline",
  ];

  let hooks = null; // { current(): {body, answer} | null, open(body), api, showErrors }

  function stamp() {
    return new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");
  }

  // ---- CSV and JSON -----------------------------------------------------------------------------------------

  // Quoted as RFC 4180; a text cell that a spreadsheet would run as a formula (=, +, -, @) gets a leading quote.
  function csvCell(value) {
    if (value === null || value === undefined) return "";
    let text = Array.isArray(value) ? value.join("; ") : String(value);
    if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }

  function csvRow(body, answer, result, i) {
    const item = body.items[i] || {};
    return {
      item: i + 1,
      item_text: item.item_text,
      cpt: item.cpt,
      icd10: item.icd10,
      p_upheld: result.p_upheld,
      p_low: result.p_low,
      p_high: result.p_high,
      band: result.band_label,
      prior: result.prior,
      base_rate: result.base_rate,
      reasons: (result.reasons || []).filter((r) => !(r.answered_by || []).length).map((r) => r.label),
      missing_checks: (result.checklist || []).filter((c) => c.status === "missing").map((c) => c.title),
      fixes: (result.fixes || []).map((f) => f.advice),
      model: answer.model.name,
      model_version: answer.model.version,
      claim_number: answer.claim_number,
      filing_deadline: answer.filing_deadline,
    };
  }

  function toCsv(body, answer) {
    const lines = [CSV_COLUMNS.join(",")];
    answer.items.forEach((result, i) => {
      const row = csvRow(body, answer, result, i);
      lines.push(CSV_COLUMNS.map((name) => csvCell(row[name])).join(","));
    });
    return `${lines.join("\r\n")}\r\n`;
  }

  function exportCsv() {
    const kept = hooks.current();
    if (!kept) return;
    download(`imr-prescreen-${stamp()}.csv`, new Blob([toCsv(kept.body, kept.answer)], { type: "text/csv;charset=utf-8" }));
  }

  function exportJson() {
    const kept = hooks.current();
    if (!kept) return;
    const json = JSON.stringify({ exported_at: new Date().toISOString(), request: kept.body, answer: kept.answer }, null, 2);
    download(`imr-prescreen-${stamp()}.json`, new Blob([json], { type: "application/json" }));
  }

  // ---- the PDF report ---------------------------------------------------------------------------------------

  function filenameOf(response) {
    const header = response.headers.get("content-disposition") || "";
    const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(header);
    return match ? decodeURIComponent(match[1]) : `imr-report-${stamp()}.pdf`;
  }

  async function downloadPdf() {
    const kept = hooks.current();
    if (!kept) return;
    const button = $("#download-pdf");
    button.disabled = true;
    try {
      const response = await hooks.api("/v1/report", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/pdf" },
        body: JSON.stringify(kept.body),
      });
      if (!response.ok) {
        let data = null;
        try {
          data = await response.json();
        } catch {
          /* not JSON: the status says it */
        }
        const errors = data && Array.isArray(data.errors) && data.errors.length ? data.errors : [{ field: "report", reason: `the server answered HTTP ${response.status}` }];
        hooks.showErrors(errors);
        return;
      }
      download(filenameOf(response), await response.blob());
    } catch {
      hooks.showErrors([{ field: "network", reason: "the server could not be reached" }]);
    } finally {
      button.disabled = false;
    }
  }

  // ---- saved cases (localStorage) ---------------------------------------------------------------------------

  function readSaved() {
    try {
      const list = JSON.parse(localStorage.getItem(SAVED_KEY) || "[]");
      return Array.isArray(list) ? list.filter((c) => c && c.id && c.request) : [];
    } catch {
      return []; // unreadable storage is treated as empty, never as an error on page load
    }
  }

  function writeSaved(list) {
    try {
      localStorage.setItem(SAVED_KEY, JSON.stringify(list));
      return true;
    } catch {
      hooks.showErrors([{ field: "saved cases", reason: "this browser refused to store the case (its storage is full or turned off)" }]);
      return false;
    }
  }

  function titleOf(body) {
    const first = (body.items[0] && body.items[0].item_text) || "Case";
    const short = first.length > 60 ? `${first.slice(0, 57)}…` : first;
    const more = body.items.length > 1 ? ` + ${body.items.length - 1} more` : "";
    return `${body.claim_number ? `${body.claim_number}: ` : ""}${short}${more}`;
  }

  function saveCase() {
    const kept = hooks.current();
    if (!kept) return;
    const entry = { id: `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`, title: titleOf(kept.body), saved_at: new Date().toISOString(), request: kept.body };
    const list = [entry, ...readSaved()].slice(0, MAX_SAVED);
    if (writeSaved(list)) {
      renderSaved();
      $("#saved").open = true;
      $("#save-case").textContent = "Saved ✓";
      setTimeout(() => ($("#save-case").textContent = "Save case in this browser"), 2000);
    }
  }

  function deleteCase(id) {
    const list = readSaved().filter((c) => c.id !== id);
    if (writeSaved(list)) renderSaved();
    const next = $("#saved-list .open-case");
    (next || $("#saved summary")).focus();
  }

  function savedItem(entry) {
    const when = entry.saved_at ? entry.saved_at.slice(0, 16).replace("T", " ") : "";
    const open = el("button", { type: "button", class: "open-case link", text: entry.title });
    open.addEventListener("click", () => hooks.open(entry.request));
    const remove = el("button", { type: "button", class: "delete-case secondary", "aria-label": `Delete saved case ${entry.title}`, text: "Delete" });
    remove.addEventListener("click", () => deleteCase(entry.id));
    return el("li", { class: "saved-case", "data-id": entry.id }, open, el("span", { class: "saved-at", text: ` saved ${when} ` }), remove);
  }

  function renderSaved() {
    const list = readSaved();
    $("#saved-count").textContent = `(${list.length})`;
    $("#saved-list").replaceChildren(...(list.length ? list.map(savedItem) : [el("li", { class: "hint", text: "No saved case yet." })]));
  }

  function setup(given) {
    hooks = given;
    $("#export-csv").addEventListener("click", exportCsv);
    $("#export-json").addEventListener("click", exportJson);
    $("#download-pdf").addEventListener("click", downloadPdf);
    $("#save-case").addEventListener("click", saveCase);
    $("#print").addEventListener("click", () => window.print());
    renderSaved();
  }

  window.IMR.keep = { setup, toCsv };
})();
