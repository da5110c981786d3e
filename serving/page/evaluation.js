// The evaluation tab in plain language: a few numbers that say how good the estimate is, each with what it
// means and how it compares with always answering the base rate; every other logged metric behind "All metrics".
"use strict";

(() => {
  const { $$, el } = window.IMR;

  const KEY_METRICS = {
    brier: ["Brier score", "The average squared gap between the estimate and what happened: 0 is perfect, lower is better."],
    log_loss: ["Log loss", "How surprised the estimate is by the real outcomes; confident mistakes cost most. Lower is better."],
    roc_auc: ["ROC AUC", "How often an upheld item gets a higher estimate than an overturned one: 0.5 is chance, 1 is perfect."],
    ece: ["Calibration error (ECE)", "How far the estimates are from the rates seen: of items given 80 %, about 80 % should be upheld. Lower is better."],
    n_items: ["Items", "Disputed items the model was trained and evaluated on."],
    n_cases: ["Cases", "Letters or determinations those items come from (the splits keep a case together)."],
    n_overturned: ["Overturned items", "How many of those items IMR overturned: the rarer outcome the estimate must find."],
  };
  const VERSUS_CONSTANT = {
    brier_minus_constant: "Brier score",
    log_loss_minus_constant: "Log loss",
  };
  const PLOT_ORDER = ["roc", "reliability", "pr", "confusion"];
  const PLOT_LABELS = { roc: "ROC curve", reliability: "Reliability (calibration)", pr: "Precision–recall", confusion: "Confusion matrix" };
  const JURISDICTION_NAMES = { dwc: "Workers' compensation (DWC)", dmhc: "Health plan (DMHC)" };

  // Counts are counts: 164, never "164.000".
  function fmt(value) {
    if (value === null || value === undefined) return "";
    const number = Number(value);
    return Number.isInteger(number) ? number.toLocaleString("en-US") : number.toFixed(3);
  }

  function interval(m) {
    return m.ci_low === null || m.ci_low === undefined ? "" : `${fmt(m.ci_low)} – ${fmt(m.ci_high)}`;
  }

  function metricRow(name, m, label, meaning) {
    return el(
      "tr",
      meaning ? { "data-metric": name } : { "data-all-metric": name },
      el("th", { scope: "row" }, el("span", { class: "metric-label", text: label }), meaning ? el("span", { class: "meaning", text: meaning }) : null),
      el("td", { class: "num value", text: fmt(m.value) }),
      el("td", { class: "num", text: interval(m) }),
    );
  }

  function table(cls, rows) {
    return el(
      "div",
      { class: "table-scroll" },
      el(
        "table",
        { class: cls },
        el("thead", {}, el("tr", {}, el("th", { text: "Measure" }), el("th", { text: "Value" }), el("th", { text: "95% interval" }))),
        el("tbody", {}, ...rows),
      ),
    );
  }

  // "-0.0011 [-0.0073, +0.0076]" (training's tag) read as the difference and its interval.
  function parseDifference(text) {
    const numbers = String(text || "").match(/[-+]?\d*\.?\d+(?:e[-+]?\d+)?/gi);
    if (!numbers || numbers.length < 3) return null;
    const [value, low, high] = numbers.map(Number);
    return { value, low, high };
  }

  function verdict(diff) {
    if (diff.low <= 0 && diff.high >= 0) return "within noise: the interval includes no difference";
    return diff.high < 0 ? "better than the base rate, beyond noise" : "worse than the base rate";
  }

  function versusConstant(tags) {
    const items = Object.entries(VERSUS_CONSTANT).flatMap(([tag, label]) => {
      const diff = parseDifference(tags[tag]);
      if (!diff) return [];
      const signed = (x) => `${x > 0 ? "+" : x < 0 ? "−" : ""}${Math.abs(x).toFixed(4)}`;
      return [el("li", { "data-versus": tag, text: `${label}: ${signed(diff.value)} against always answering the base rate (95 % ${signed(diff.low)} to ${signed(diff.high)}): ${verdict(diff)}.` })];
    });
    if (!items.length) return null;
    return el("div", { class: "versus" }, el("h3", { text: "Against the constant base rate (negative is better)" }), el("ul", {}, ...items));
  }

  function facts(model) {
    const rows = [
      ["Model", `${model.name} version ${model.version}`],
      ["Served from", model.source === "registry" ? "the registry" : "the local copy (registry unreachable)"],
      ["Trained", model.trained_at || "unknown"],
      ["Data digest", model.data_digest || "unknown"],
      ["Code commit", model.git_commit || "unknown"],
    ];
    if (model.tags && model.tags.candidate) rows.push(["Candidate", model.tags.candidate]);
    if (model.last_error) rows.push(["Last failed update", model.last_error]);
    return el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  }

  function plots(model) {
    const rank = (name) => (PLOT_ORDER.includes(name) ? PLOT_ORDER.indexOf(name) : PLOT_ORDER.length);
    const names = Object.keys(model.plots).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
    return el(
      "div",
      { class: "plots" },
      ...names.map((name) =>
        el("figure", { class: `plot plot-${name}` }, el("img", { "data-src": model.plots[name], alt: `${PLOT_LABELS[name] || name} plot` }), el("figcaption", { text: PLOT_LABELS[name] || name })),
      ),
    );
  }

  function section(model) {
    const title = JURISDICTION_NAMES[model.jurisdiction] || model.jurisdiction;
    if (!model.loaded) return el("section", { class: "eval" }, el("h2", { text: title }), el("p", { text: "No champion loaded yet." }));
    const tags = model.tags || {};
    const fallback = tags.fallback && tags.fallback !== "no" ? tags.fallback : null;
    const metrics = model.metrics || {};
    const key = Object.keys(KEY_METRICS).filter((name) => name in metrics);
    const all = Object.keys(metrics).sort();
    return el(
      "section",
      { class: "eval", "data-jurisdiction": model.jurisdiction },
      el("h2", { text: title }),
      fallback ? el("p", { class: "fallback", text: `No model beat always answering the base rate, so this is the prior per treatment category: ${fallback.replace(/^\[\w+\] /, "")}` }) : null,
      facts(model),
      table("metrics", key.map((name) => metricRow(name, metrics[name], ...KEY_METRICS[name]))),
      versusConstant(tags),
      el("details", { class: "all-metrics" }, el("summary", { text: `All metrics (${all.length}, as training logged them)` }), table("metrics-all", all.map((name) => metricRow(name, metrics[name], name, null)))),
      plots(model),
    );
  }

  // Plots come through the API (so the key applies): fetched as blobs.
  async function loadPlot(api, img) {
    try {
      const response = await api(img.dataset.src);
      if (!response.ok) return;
      img.src = URL.createObjectURL(await response.blob());
      img.addEventListener("load", () => img.classList.add("loaded"), { once: true });
    } catch {
      /* a missing plot leaves its caption */
    }
  }

  function render(root, data, api) {
    root.replaceChildren(...data.models.map(section));
    for (const img of $$("img[data-src]", root)) loadPlot(api, img);
  }

  window.IMR.evaluation = { render, parseDifference };
})();
