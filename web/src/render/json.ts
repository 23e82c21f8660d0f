// application/json: a collapsible tree (<details>), children built when first opened.

const OPEN_DEPTH = 1;
const MAX_CHILDREN = 500;

function scalar(value: unknown): HTMLElement {
  const el = document.createElement("span");
  if (value === null || value === undefined) {
    el.className = "json-null";
    el.textContent = "null";
  } else if (typeof value === "string") {
    el.className = "json-string";
    el.textContent = JSON.stringify(value);
  } else if (typeof value === "number" || typeof value === "bigint") {
    el.className = "json-number";
    el.textContent = String(value);
  } else if (typeof value === "boolean") {
    el.className = "json-boolean";
    el.textContent = String(value);
  } else if (value instanceof Uint8Array) {
    el.className = "json-null";
    el.textContent = `<${value.byteLength} bytes>`;
  } else {
    el.textContent = String(value);
  }
  return el;
}

function isContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  return typeof value === "object" && value !== null && !(value instanceof Uint8Array);
}

function node(key: string | null, value: unknown, depth: number): HTMLElement {
  const row = document.createElement("div");
  row.className = "json-row";
  const label = () => {
    const k = document.createElement("span");
    k.className = "json-key";
    k.textContent = `${key}: `;
    return k;
  };
  if (!isContainer(value)) {
    if (key !== null) row.appendChild(label());
    row.appendChild(scalar(value));
    return row;
  }
  const entries: Array<[string, unknown]> = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : Object.entries(value);
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  if (key !== null) summary.appendChild(label());
  const brief = document.createElement("span");
  brief.className = "json-brief";
  brief.textContent = Array.isArray(value) ? `Array(${entries.length})` : `{${entries.length} keys}`;
  summary.appendChild(brief);
  details.appendChild(summary);
  const body = document.createElement("div");
  body.className = "json-children";
  details.appendChild(body);
  let built = false;
  const build = () => {
    if (built) return;
    built = true;
    for (const [k, v] of entries.slice(0, MAX_CHILDREN)) body.appendChild(node(k, v, depth + 1));
    if (entries.length > MAX_CHILDREN) body.appendChild(scalar(`… ${entries.length - MAX_CHILDREN} more`));
  };
  details.addEventListener("toggle", () => details.open && build());
  if (depth < OPEN_DEPTH) {
    details.open = true;
    build();
  }
  row.appendChild(details);
  return row;
}

export function renderJson(value: unknown, target: HTMLElement): void {
  target.classList.add("json-tree");
  target.appendChild(node(null, value, 0));
}
