// Markdown -> sanitised HTML (marked + DOMPurify), Python code blocks highlighted with the
// same Lezer parser and class names as the editor, TeX math typeset by KaTeX.  The math
// extension (./math.ts) is a chunk imported the first time a text may hold math; until it is
// in (or if it cannot load) such a text is shown without it, then rendered again with it.
import { classHighlighter, highlightCode } from "@lezer/highlight";
import { parser as pythonParser } from "@lezer/python";
import { Marked } from "marked";
import { sanitize } from "./html";

const marked = new Marked({ gfm: true, breaks: false, async: false });
/** What may open math: `$`, `\(`, `\[`, `\begin{`. */
const MAYBE_MATH = /\$|\\[([]|\\begin\{/;
let math: typeof import("./math") | undefined;
let mathLoading: Promise<unknown> | undefined;
/** The source each target shows (rendered again when the math extension arrives). */
const shown = new WeakMap<HTMLElement, string>();

/** Highlight Python source into `target` (spans with `tok-*` classes). */
export function highlightPython(code: string, target: HTMLElement): void {
  const fragment = document.createDocumentFragment();
  highlightCode(
    code,
    pythonParser.parse(code),
    classHighlighter,
    (text, classes) => {
      if (!classes) {
        fragment.appendChild(document.createTextNode(text));
        return;
      }
      const span = document.createElement("span");
      span.className = classes;
      span.textContent = text;
      fragment.appendChild(span);
    },
    () => fragment.appendChild(document.createTextNode("\n")),
  );
  target.replaceChildren(fragment);
}

const PYTHON_LANGS = new Set(["", "python", "py", "python3", "ipython", "pycon"]);

/** Render markdown into `target` (replacing its content). */
export function renderMarkdown(source: string, target: HTMLElement): void {
  shown.set(target, source);
  if (!math && MAYBE_MATH.test(source)) {
    mathLoading ??= import("./math").then((m) => {
      marked.use(m.mathExtension);
      math = m;
    });
    mathLoading.then(
      () => shown.get(target) === source && renderMarkdown(source, target),
      (error: unknown) => {
        mathLoading = undefined;
        console.warn("the Markdown math extension could not be loaded", error);
      },
    );
  }
  const html = marked.parse(source) as string;
  target.innerHTML = sanitize(html);
  target.classList.add("markdown");
  for (const code of target.querySelectorAll("pre > code")) {
    const lang = (code.className.match(/language-(\S+)/)?.[1] ?? "").toLowerCase();
    if (PYTHON_LANGS.has(lang)) highlightPython(code.textContent ?? "", code as HTMLElement);
  }
  math?.typeset(target);
  for (const link of target.querySelectorAll("a[href]")) {
    const href = link.getAttribute("href") ?? "";
    if (/^https?:/i.test(href)) {
      link.setAttribute("target", "_blank");
      link.setAttribute("rel", "noopener noreferrer");
    }
  }
}
