// KaTeX, a chunk of its own, imported the first time a page shows math: by ../math.ts (the
// Markdown math extension, for its placeholders) and by ../output.ts (`text/latex`).  Its
// stylesheet (`chunks/katex-<hash>.css`, fonts beside it as woff2) is built by
// scripts/build.mjs, which gives its file name here as __AMPHI_KATEX_CSS__; this module adds
// the `<link>` once, and typesets once it has loaded (or failed).
//
// Outputs are untrusted: `trust: false` refuses \href, \url, \includegraphics and the \html*
// commands, and sizes and macro expansion are bounded.
import katex from "katex";

function addStylesheet(): Promise<void> {
  const href = new URL(__AMPHI_KATEX_CSS__, import.meta.url).href;
  const existing = [...document.querySelectorAll<HTMLLinkElement>('link[rel="stylesheet"]')].find((l) => l.href === href);
  if (existing) return Promise.resolve();
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = href;
  link.dataset.amphi = "katex";
  const loaded = new Promise<void>((resolve) => {
    link.addEventListener("load", () => resolve(), { once: true });
    link.addEventListener("error", () => {
      console.warn(`the KaTeX stylesheet ${href} could not be loaded`);
      resolve();
    }, { once: true });
  });
  document.head.appendChild(link);
  return loaded;
}

/** Settles once the KaTeX stylesheet is in the page (loaded or failed). */
const ready: Promise<void> = addStylesheet();

const OPTIONS = {
  throwOnError: false,
  trust: false,
  strict: "ignore",
  maxSize: 50,
  maxExpand: 1000,
  output: "htmlAndMathml",
} as const;

/** Typeset `tex` into `el` (replacing its content); errors show in place, in red. */
function renderMath(el: HTMLElement, tex: string, display: boolean): void {
  katex.render(tex, el, { ...OPTIONS, displayMode: display });
  el.dataset.typeset = "";
}

// Math in `text/latex` outputs, as Jupyter's frontends find it.
const SEGMENT = /\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\(([\s\S]+?)\\\)|(\\begin\{([a-zA-Z]+\*?)\}[\s\S]+?\\end\{\5\})|\$((?:\\[\s\S]|[^\\$])+?)\$/g;

/** The Markdown extension's math placeholders (their text is the TeX source, `data-display`
 * says whether it is display math), typeset in place once the stylesheet is in. */
export async function typeset(elements: HTMLElement[]): Promise<void> {
  await ready;
  for (const el of elements) renderMath(el, el.textContent ?? "", el.dataset.display === "true");
}

/** A `text/latex` output (`target` shows its text meanwhile), once the stylesheet is in: text
 * with delimited math (`$`, `$$`, `\(`, `\[`, environments); text without any delimiter is
 * typeset whole as display math when it parses, else left as text. */
export async function latex(source: string, target: HTMLElement): Promise<void> {
  await ready;
  const parts: Node[] = [];
  let last = 0;
  for (const match of source.matchAll(SEGMENT)) {
    const at = match.index ?? 0;
    if (at > last) parts.push(document.createTextNode(source.slice(last, at)));
    const display = match[1] !== undefined || match[2] !== undefined || match[4] !== undefined;
    const tex = match[1] ?? match[2] ?? match[3] ?? match[4] ?? match[6] ?? "";
    const span = document.createElement(display ? "div" : "span");
    renderMath(span, tex, display);
    parts.push(span);
    last = at + match[0].length;
  }
  if (!parts.length) {
    const div = document.createElement("div");
    try {
      katex.render(source, div, { ...OPTIONS, throwOnError: true, displayMode: true });
    } catch {
      return; // not TeX: the text stays as it is
    }
    target.replaceChildren(div);
    return;
  }
  if (last < source.length) parts.push(document.createTextNode(source.slice(last)));
  target.replaceChildren(...parts);
}
