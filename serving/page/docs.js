// The API reference, rendered from /openapi.json with textContent only (no CDN, no innerHTML).
"use strict";

(() => {
  const $ = (selector) => document.querySelector(selector);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function resolve(spec, schema) {
    const ref = schema && schema.$ref;
    if (!ref) return schema;
    return ref.split("/").slice(1).reduce((node, key) => (node ? node[key] : undefined), spec);
  }

  function schemaName(schema) {
    if (!schema) return "";
    if (schema.$ref) return schema.$ref.split("/").pop();
    if (schema.type === "array" && schema.items) return `array of ${schemaName(schema.items)}`;
    return schema.type || "";
  }

  function example(spec, media) {
    if (!media) return null;
    if (media.example !== undefined) return media.example;
    const schema = resolve(spec, media.schema);
    if (schema && Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
    return null;
  }

  // ---- markdown --------------------------------------------------------------------------------------------
  // The descriptions are this server's own docstrings: paragraphs, "- " lists, `code` (or RST ``code``), **bold**
  // and [links](...). That small subset is built here as DOM nodes, so no HTML from a string is ever parsed.

  const INLINE = /``([^`]+)``|`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)|:[a-z]+:(?=`)/g;

  function inline(text) {
    const nodes = [];
    let at = 0;
    for (const match of text.matchAll(INLINE)) {
      if (match.index > at) nodes.push(document.createTextNode(text.slice(at, match.index)));
      const [, rst, code, bold, label, href] = match;
      if (rst !== undefined || code !== undefined) nodes.push(el("code", { text: rst !== undefined ? rst : code }));
      else if (bold !== undefined) nodes.push(el("strong", { text: bold }));
      else if (label !== undefined) nodes.push(/^(https?:\/\/|\/|#)/.test(href) ? el("a", { href, text: label }) : document.createTextNode(label));
      at = match.index + match[0].length; // a role such as :mod: is dropped; its `name` follows as code
    }
    if (at < text.length) nodes.push(document.createTextNode(text.slice(at)));
    return nodes;
  }

  function markdown(text, cls = "md") {
    const root = el("div", { class: cls });
    for (const block of String(text || "").split(/\n\s*\n/)) {
      const lines = block.split("\n").map((l) => l.trim()).filter(Boolean);
      if (!lines.length) continue;
      if (lines.every((l) => /^[-*] /.test(l))) {
        root.append(el("ul", {}, ...lines.map((l) => el("li", {}, ...inline(l.slice(2))))));
      } else {
        root.append(el("p", {}, ...inline(lines.join(" "))));
      }
    }
    return root;
  }

  // ---- the request's fields and limits ----------------------------------------------------------------------

  function optional(schema) {
    const any = schema && (schema.anyOf || schema.oneOf);
    if (!Array.isArray(any)) return schema || {};
    return any.find((s) => s.type !== "null") || {};
  }

  function typeOf(spec, schema) {
    const s = optional(schema);
    if (s.$ref) return s.$ref.split("/").pop();
    if (s.type === "array") return `list of ${typeOf(spec, s.items || {})}`;
    if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
    return s.format ? `${s.type} (${s.format})` : s.type || "any";
  }

  function limitsOf(schema, config, name) {
    const s = optional(schema);
    const out = [];
    if (s.minLength !== undefined) out.push(`at least ${s.minLength} character(s)`);
    if (s.maxLength !== undefined) out.push(`at most ${s.maxLength} characters`);
    if (s.minItems !== undefined) out.push(`at least ${s.minItems}`);
    if (s.maxItems !== undefined) out.push(`at most ${s.maxItems}`);
    if (s.minimum !== undefined) out.push(`≥ ${s.minimum}`);
    if (s.maximum !== undefined) out.push(`≤ ${s.maximum}`);
    if (s.type === "string" && config && config.max_text_bytes && s.maxLength === undefined && !s.format && !s.enum) out.push(`at most ${config.max_text_bytes.toLocaleString("en-US")} bytes (UTF-8)`);
    if (name === "items" && config && config.max_items) out.push(`at most ${config.max_items} items`);
    return out.join("; ");
  }

  function fieldRows(spec, schemaName, prefix, config) {
    const schema = spec.components && spec.components.schemas && spec.components.schemas[schemaName];
    if (!schema || !schema.properties) return [];
    const required = new Set(schema.required || []);
    return Object.entries(schema.properties).map(([name, prop]) =>
      el(
        "tr",
        { "data-field": `${prefix}${name}` },
        el("td", {}, el("code", { text: `${prefix}${name}` })),
        el("td", { text: typeOf(spec, prop) }),
        el("td", { text: required.has(name) ? "required" : "optional" }),
        el("td", { class: "limits", text: limitsOf(prop, config, name) }),
        el("td", {}, markdown(prop.description || optional(prop).description || "")),
      ),
    );
  }

  function fieldsTable(spec, config) {
    const rows = [...fieldRows(spec, "PrescreenIn", "", config), ...fieldRows(spec, "ItemIn", "items[].", config)];
    if (!rows.length) return null;
    return el(
      "section",
      { class: "card op", id: "request-fields" },
      el("h2", { text: "The request's fields and limits (POST /v1/prescreen, /v1/report, each batch row)" }),
      el(
        "div",
        { class: "table-scroll" },
        el(
          "table",
          { class: "fields" },
          el("thead", {}, el("tr", {}, ...["Field", "Type", "Required", "Limits", "Meaning"].map((h) => el("th", { text: h })))),
          el("tbody", {}, ...rows),
        ),
      ),
    );
  }

  function pre(value) {
    return el("pre", { class: "example", text: typeof value === "string" ? value : JSON.stringify(value, null, 2) });
  }

  function operation(spec, path, method, op) {
    const id = `${method}-${path}`.replace(/[^A-Za-z0-9]+/g, "-");
    const parts = [
      el("h2", { id }, el("span", { class: `method ${method}`, text: method.toUpperCase() }), ` ${path}`),
      el("p", { class: "summary", text: op.summary || "" }),
    ];
    if (op.description) parts.push(markdown(op.description, "md description"));
    const params = op.parameters || [];
    if (params.length) {
      parts.push(
        el("h3", { text: "Parameters" }),
        el("ul", {}, ...params.map((p) => el("li", {}, `${p.name} (${p.in}${p.required ? ", required" : ""}): `, ...inline(p.description || schemaName(p.schema))))),
      );
    }
    const body = op.requestBody && op.requestBody.content;
    if (body) {
      parts.push(el("h3", { text: `Request body: ${Object.keys(body).join(", ")}` }));
      for (const [type, media] of Object.entries(body)) {
        const sample = example(spec, media);
        if (sample !== null) parts.push(el("p", { text: `${type}, ${schemaName(media.schema)}:` }), pre(sample));
      }
    }
    const responses = Object.entries(op.responses || {});
    parts.push(
      el("h3", { text: "Responses" }),
      el("ul", {}, ...responses.map(([code, r]) => {
        const media = r.content && r.content["application/json"];
        return el("li", {}, `${code}: `, ...inline(r.description || ""), media ? ` (${schemaName(media.schema)})` : "");
      })),
    );
    const ok = op.responses && op.responses["200"] && op.responses["200"].content;
    const sample = ok && example(spec, ok["application/json"]);
    if (sample) parts.push(el("p", { text: "Example answer:" }), pre(sample));
    return { id, section: el("section", { class: "card op", "data-path": path }, ...parts) };
  }

  async function start() {
    const spec = await (await fetch("/openapi.json")).json();
    let config = null;
    try {
      config = await (await fetch("/ui-config")).json();
    } catch {
      /* the table then shows the schema's own limits only */
    }
    $("#docs-intro").replaceChildren(el("strong", { text: `${spec.info.title} ${spec.info.version}` }), markdown(spec.info.description || ""));
    const sections = [];
    const links = [];
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const { id, section } = operation(spec, path, method, op);
        sections.push(section);
        links.push(el("li", {}, el("a", { href: `#${id}`, text: `${method.toUpperCase()} ${path}` }), ` — ${op.summary || ""}`));
      }
    }
    const fields = fieldsTable(spec, config);
    if (fields) links.unshift(el("li", {}, el("a", { href: "#request-fields", text: "The request's fields and limits" })));
    $("#docs-toc").replaceChildren(el("ul", {}, ...links));
    $("#docs").replaceChildren(...(fields ? [fields] : []), ...sections);
    document.body.dataset.ready = "true";
  }

  start();
})();
