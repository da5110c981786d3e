// Shared helpers of the page's scripts (loaded first). Plain DOM, text only: data may quote what people typed.
"use strict";

(() => {
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const encoder = new TextEncoder();

  // The server's limits are in UTF-8 bytes, not characters: "é" is 2, most emoji 4.
  function byteLength(text) {
    return encoder.encode(text).length;
  }

  // A file made here and handed to the browser's download (a Blob URL: the data never travels in a URL).
  function download(filename, blob) {
    const url = URL.createObjectURL(blob);
    const link = el("a", { href: url, download: filename, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  window.IMR = { $, $$, el, byteLength, download };
})();
