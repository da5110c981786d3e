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

  function pre(value) {
    return el("pre", { class: "example", text: typeof value === "string" ? value : JSON.stringify(value, null, 2) });
  }

  function operation(spec, path, method, op) {
    const id = `${method}-${path}`.replace(/[^A-Za-z0-9]+/g, "-");
    const parts = [
      el("h2", { id }, el("span", { class: `method ${method}`, text: method.toUpperCase() }), ` ${path}`),
      el("p", { class: "summary", text: op.summary || "" }),
    ];
    if (op.description) parts.push(el("p", { class: "description", text: op.description }));
    const params = op.parameters || [];
    if (params.length) {
      parts.push(
        el("h3", { text: "Parameters" }),
        el("ul", {}, ...params.map((p) => el("li", { text: `${p.name} (${p.in}${p.required ? ", required" : ""}): ${p.description || schemaName(p.schema)}` }))),
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
        return el("li", { text: `${code}: ${r.description || ""}${media ? ` (${schemaName(media.schema)})` : ""}` });
      })),
    );
    const ok = op.responses && op.responses["200"] && op.responses["200"].content;
    const sample = ok && example(spec, ok["application/json"]);
    if (sample) parts.push(el("p", { text: "Example answer:" }), pre(sample));
    return { id, section: el("section", { class: "card op", "data-path": path }, ...parts) };
  }

  async function start() {
    const spec = await (await fetch("/openapi.json")).json();
    $("#docs-intro").textContent = `${spec.info.title} ${spec.info.version}: ${spec.info.description || ""}`;
    const sections = [];
    const links = [];
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const { id, section } = operation(spec, path, method, op);
        sections.push(section);
        links.push(el("li", {}, el("a", { href: `#${id}`, text: `${method.toUpperCase()} ${path}` }), ` — ${op.summary || ""}`));
      }
    }
    $("#docs-toc").replaceChildren(el("ul", {}, ...links));
    $("#docs").replaceChildren(...sections);
    document.body.dataset.ready = "true";
  }

  start();
})();
