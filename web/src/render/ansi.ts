// ANSI SGR escape sequences -> DOM spans (16 colours as classes, 256 and 24-bit as styles).
// Other escape sequences are dropped.

interface Style {
  bold: boolean;
  dim: boolean;
  italic: boolean;
  underline: boolean;
  inverse: boolean;
  fg: string | null;
  bg: string | null;
}

const plain = (): Style => ({ bold: false, dim: false, italic: false, underline: false, inverse: false, fg: null, bg: null });

function xterm256(n: number): string {
  if (n < 16) return `ansi-${n}`;
  if (n < 232) {
    const i = n - 16;
    const level = (v: number) => (v === 0 ? 0 : 55 + v * 40);
    return `rgb(${level(Math.floor(i / 36))},${level(Math.floor(i / 6) % 6)},${level(i % 6)})`;
  }
  const grey = 8 + (n - 232) * 10;
  return `rgb(${grey},${grey},${grey})`;
}

function applyCodes(style: Style, codes: number[]): void {
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) Object.assign(style, plain());
    else if (c === 1) style.bold = true;
    else if (c === 2) style.dim = true;
    else if (c === 3) style.italic = true;
    else if (c === 4) style.underline = true;
    else if (c === 7) style.inverse = true;
    else if (c === 22) style.bold = style.dim = false;
    else if (c === 23) style.italic = false;
    else if (c === 24) style.underline = false;
    else if (c === 27) style.inverse = false;
    else if (c >= 30 && c <= 37) style.fg = `ansi-${c - 30}`;
    else if (c >= 90 && c <= 97) style.fg = `ansi-${c - 90 + 8}`;
    else if (c === 39) style.fg = null;
    else if (c >= 40 && c <= 47) style.bg = `ansi-${c - 40}`;
    else if (c >= 100 && c <= 107) style.bg = `ansi-${c - 100 + 8}`;
    else if (c === 49) style.bg = null;
    else if (c === 38 || c === 48) {
      let colour: string | null = null;
      if (codes[i + 1] === 5 && codes[i + 2] !== undefined) {
        colour = xterm256(codes[i + 2]);
        i += 2;
      } else if (codes[i + 1] === 2 && codes[i + 4] !== undefined) {
        colour = `rgb(${codes[i + 2]},${codes[i + 3]},${codes[i + 4]})`;
        i += 4;
      }
      if (c === 38) style.fg = colour;
      else style.bg = colour;
    }
  }
}

function span(text: string, style: Style): Node {
  const fg = style.inverse ? style.bg : style.fg;
  const bg = style.inverse ? style.fg : style.bg;
  if (!style.bold && !style.dim && !style.italic && !style.underline && !fg && !bg && !style.inverse) {
    return document.createTextNode(text);
  }
  const el = document.createElement("span");
  el.textContent = text;
  const classes: string[] = [];
  if (style.bold) classes.push("ansi-bold");
  if (style.dim) classes.push("ansi-dim");
  if (style.italic) classes.push("ansi-italic");
  if (style.underline) classes.push("ansi-underline");
  if (fg) {
    if (fg.startsWith("ansi-")) classes.push(`${fg}-fg`);
    else el.style.color = fg;
  } else if (style.inverse) classes.push("ansi-inverse-fg");
  if (bg) {
    if (bg.startsWith("ansi-")) classes.push(`${bg}-bg`);
    else el.style.backgroundColor = bg;
  } else if (style.inverse) classes.push("ansi-inverse-bg");
  el.className = classes.join(" ");
  return el;
}

// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[([0-9;]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

/** Render text with ANSI escapes into `target` (appended). */
export function renderAnsi(text: string, target: HTMLElement): void {
  const style = plain();
  const fragment = document.createDocumentFragment();
  let last = 0;
  ESCAPE.lastIndex = 0;
  for (let m = ESCAPE.exec(text); m; m = ESCAPE.exec(text)) {
    if (m.index > last) fragment.appendChild(span(text.slice(last, m.index), style));
    last = m.index + m[0].length;
    if (m[2] === "m") applyCodes(style, (m[1] || "0").split(";").map((v) => Number(v) || 0));
  }
  if (last < text.length) fragment.appendChild(span(text.slice(last), style));
  target.appendChild(fragment);
}
