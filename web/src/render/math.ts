// TeX math in Markdown (`$...$`, `$$...$$`, `\(...\)`, `\[...\]`, `\begin{env}...\end{env}`):
// a small chunk of its own, imported by ./markdown.ts the first time a Markdown text may hold
// math (it has a `$`, `\(`, `\[` or `\begin{`; "$5 and $10" loads this chunk, not KaTeX).
// It finds the math; KaTeX (`lazy/katex.ts`, its CSS and fonts) is imported the first time a
// text has some.
import type { MarkedExtension, Tokens } from "marked";

/** Class of the placeholders the Markdown extension writes (the TeX source as their text). */
const MATH_CLASS = "amphi-math";

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

interface MathToken extends Tokens.Generic {
  text: string;
  display: boolean;
}

// Inline: `$$x$$` and `\[x\]` (display), `\(x\)` and `$x$` (inline).  As in Pandoc, `$x$`
// opens on a non-space and closes on a non-space not followed by a digit, so "$5 and $10"
// stays text.
const INLINE: Array<[RegExp, boolean]> = [
  [/^\$\$([\s\S]+?)\$\$/, true],
  [/^\\\[([\s\S]+?)\\\]/, true],
  [/^\\\(([\s\S]+?)\\\)/, false],
  [/^\$(?![\s$])((?:\\[\s\S]|[^\\$])+?)(?<!\s)\$(?!\d)/, false],
];
// Blocks: a paragraph of its own that is `$$...$$`, `\[...\]` or a LaTeX environment.
const BLOCK: RegExp[] = [
  /^ {0,3}\$\$([\s\S]+?)\$\$[ \t]*(?:\n+|$)/,
  /^ {0,3}\\\[([\s\S]+?)\\\][ \t]*(?:\n+|$)/,
  /^ {0,3}(\\begin\{([a-zA-Z]+\*?)\}[\s\S]+?\\end\{\2\})[ \t]*(?:\n+|$)/,
];

function render(token: Tokens.Generic): string {
  const { text, display } = token as MathToken;
  const tag = token.type === "mathBlock" ? "div" : "span";
  return `<${tag} class="${MATH_CLASS}" data-display="${display}">${escapeHtml(text)}</${tag}>`;
}

/** The marked extension: math becomes placeholders that {@link typeset} fills in. */
export const mathExtension: MarkedExtension = {
  extensions: [
    {
      name: "mathBlock",
      level: "block",
      tokenizer(src: string) {
        for (const rule of BLOCK) {
          const match = rule.exec(src);
          if (match) return { type: "mathBlock", raw: match[0], text: match[1].trim(), display: true } as MathToken;
        }
        return undefined;
      },
      renderer: render,
    },
    {
      name: "math",
      level: "inline",
      start(src: string) {
        const at = src.search(/(?<!\\)\$|\\[([]/);
        return at < 0 ? undefined : at;
      },
      tokenizer(src: string) {
        for (const [rule, display] of INLINE) {
          const match = rule.exec(src);
          if (match) return { type: "math", raw: match[0], text: match[1].trim(), display } as MathToken;
        }
        return undefined;
      },
      renderer: render,
    },
  ],
};

/** Render the math placeholders under `root` with KaTeX (loaded on first use); the TeX
 * source stays as text if KaTeX cannot be loaded. */
export function typeset(root: HTMLElement): void {
  const pending = [...root.querySelectorAll<HTMLElement>(`.${MATH_CLASS}:not([data-typeset])`)];
  if (!pending.length) return;
  import("./lazy/katex")
    .then((katex) => katex.typeset(pending))
    .catch((error: unknown) => console.warn("math could not be typeset", error));
}
