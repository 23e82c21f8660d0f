// The kernel's UI elements (lifecycle/ui.py) as a custom element, <amphi-ui>, bound to the
// kernel through the UIStore.  Each kind is a small control factory: it renders from
// {id, kind, props, value} (the wire form), reports reader changes through `change`, and
// applies values that come from elsewhere through `update`.
import { el as h } from "../dom";
import type { UIStore } from "./store";

export const UI_MIME = "application/vnd.amphikernel.ui+json";

export interface UISpec {
  id: string;
  kind: string;
  props: Record<string, unknown>;
  value: unknown;
}

type Change = (value: unknown, options?: { immediate?: boolean }) => void;

interface Control {
  el: HTMLElement;
  update(value: unknown): void;
}

let uniqueCounter = 0;
const uid = (prefix: string) => `${prefix}-${++uniqueCounter}`;


const str = (v: unknown, fallback = ""): string => (typeof v === "string" ? v : fallback);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** A labelled row: <label for=...>text</label> control. */
function labelled(label: string, control: HTMLElement, extra?: HTMLElement): HTMLElement {
  const row = h("div", { class: "ui-row" });
  if (label) {
    if (!control.id) control.id = uid("ui");
    row.append(h("label", { class: "ui-label", for: control.id }, label));
  }
  row.append(control);
  if (extra) row.append(extra);
  return row;
}

function formatNumber(value: unknown, step: unknown): string {
  const n = num(value);
  if (n === null) return String(value ?? "");
  const s = num(step);
  if (s !== null && !Number.isInteger(s)) {
    const decimals = Math.min(10, (String(s).split(".")[1] ?? "").length);
    return n.toFixed(decimals);
  }
  return String(n);
}

/** A text box or text area: every keystroke is a coalesced update, `change` (blur or Enter)
 * an immediate one; kernel-side values replace the text only when it differs. */
function bindText(
  input: HTMLInputElement | HTMLTextAreaElement,
  value: unknown,
  label: string,
  change: Change,
): Control {
  input.addEventListener("input", () => change(input.value));
  input.addEventListener("change", () => change(input.value, { immediate: true }));
  const update = (next: unknown) => {
    if (input.value !== next) input.value = str(next);
  };
  update(value);
  return { el: labelled(label, input), update };
}

const controls: Record<string, (spec: UISpec, change: Change) => Control> = {
  slider(spec, change) {
    const { start, stop, step, label } = spec.props;
    const input = h("input", {
      type: "range",
      min: num(start) ?? 0,
      max: num(stop) ?? 100,
      step: num(step) ?? 1,
      "aria-label": str(label) || "slider",
    });
    const shown = h("output", { class: "ui-value", "aria-hidden": "true" });
    const update = (value: unknown) => {
      input.value = String(value);
      shown.textContent = formatNumber(value, step);
    };
    input.addEventListener("input", () => {
      shown.textContent = formatNumber(Number(input.value), step);
      change(Number(input.value));
    });
    input.addEventListener("change", () => change(Number(input.value), { immediate: true }));
    update(spec.value);
    return { el: labelled(str(label), input, shown), update };
  },

  number(spec, change) {
    const { start, stop, step, label } = spec.props;
    const input = h("input", {
      type: "number",
      min: num(start),
      max: num(stop),
      step: num(step) ?? "any",
      "aria-label": str(label) || "number",
    });
    const send = (immediate: boolean) => {
      if (input.value === "" || !input.checkValidity()) return;
      const n = Number(input.value);
      if (Number.isFinite(n)) change(n, { immediate });
    };
    input.addEventListener("input", () => send(false));
    input.addEventListener("change", () => send(true));
    const update = (value: unknown) => {
      if (document.activeElement !== input || Number(input.value) !== value) input.value = String(value ?? "");
    };
    update(spec.value);
    return { el: labelled(str(label), input), update };
  },

  text(spec, change) {
    const { placeholder, max_length, label } = spec.props;
    const input = h("input", {
      type: "text",
      placeholder: str(placeholder) || null,
      maxlength: num(max_length),
      "aria-label": str(label) || "text",
    });
    return bindText(input, spec.value, str(label), change);
  },

  text_area(spec, change) {
    const { placeholder, max_length, rows, label } = spec.props;
    const input = h("textarea", {
      rows: num(rows) ?? 4,
      placeholder: str(placeholder) || null,
      maxlength: num(max_length),
      "aria-label": str(label) || "text",
    });
    return bindText(input, spec.value, str(label), change);
  },

  checkbox(spec, change) {
    const label = str(spec.props.label);
    const input = h("input", { type: "checkbox", "aria-label": label || "checkbox" });
    input.addEventListener("change", () => change(input.checked, { immediate: true }));
    const update = (value: unknown) => {
      input.checked = value === true;
    };
    update(spec.value);
    return { el: labelled(label, input), update };
  },

  dropdown(spec, change) {
    const label = str(spec.props.label);
    const options = (spec.props.options as unknown[] | undefined) ?? [];
    const select = h("select", { "aria-label": label || "choice" });
    const none = h("option", { value: "" }, "—");
    select.append(none);
    options.forEach((option, i) => select.append(h("option", { value: String(i) }, str(option, String(option)))));
    select.addEventListener("change", () => {
      const i = select.value === "" ? -1 : Number(select.value);
      change(i < 0 ? null : options[i], { immediate: true });
    });
    const update = (value: unknown) => {
      const i = options.indexOf(value as string);
      select.value = i < 0 ? "" : String(i);
      none.hidden = i >= 0;
    };
    update(spec.value);
    return { el: labelled(label, select), update };
  },

  radio(spec, change) {
    const label = str(spec.props.label);
    const options = (spec.props.options as unknown[] | undefined) ?? [];
    const name = uid("radio");
    const group = h("fieldset", { class: `ui-radio${spec.props.inline ? " inline" : ""}` });
    if (label) group.append(h("legend", { class: "ui-label" }, label));
    const inputs = options.map((option) => {
      const input = h("input", { type: "radio", name, value: str(option) });
      input.addEventListener("change", () => input.checked && change(option, { immediate: true }));
      group.append(h("label", { class: "ui-radio-option" }, input, ` ${str(option)}`));
      return input;
    });
    const update = (value: unknown) => inputs.forEach((input, i) => (input.checked = options[i] === value));
    update(spec.value);
    return { el: group, update };
  },

  button(spec, change) {
    const button = h("button", { type: "button", class: "ui-button" }, str(spec.props.label) || "Click");
    let clicks = 0;
    button.addEventListener("click", () => change(++clicks, { immediate: true }));
    return { el: h("div", { class: "ui-row" }, button), update: () => {} };
  },

  date(spec, change) {
    const { start, stop, label } = spec.props;
    const input = h("input", { type: "date", min: str(start) || null, max: str(stop) || null, "aria-label": str(label) || "date" });
    input.addEventListener("change", () => input.value && change(input.value, { immediate: true }));
    const update = (value: unknown) => {
      input.value = str(value);
    };
    update(spec.value);
    return { el: labelled(str(label), input), update };
  },

  file(spec, change) {
    const { accept, multiple, label } = spec.props;
    const input = h("input", {
      type: "file",
      accept: Array.isArray(accept) && accept.length ? accept.join(",") : null,
      multiple: multiple === true,
      "aria-label": str(label) || "upload",
    });
    const list = h("span", { class: "ui-files" });
    input.addEventListener("change", async () => {
      const files = await Promise.all(
        [...(input.files ?? [])].map(async (f) => ({ name: f.name, type: f.type, contents: new Uint8Array(await f.arrayBuffer()) })),
      );
      change(files, { immediate: true });
    });
    const update = (value: unknown) => {
      const files = Array.isArray(value) ? (value as Array<{ name?: string; size?: number }>) : [];
      list.textContent = files.map((f) => `${f.name ?? "?"} (${f.size ?? f.name?.length ?? 0} B)`).join(", ");
    };
    update(spec.value);
    return { el: labelled(str(label), input, list), update };
  },

  table(spec, change) {
    const columns = (spec.props.columns as string[] | undefined) ?? [];
    const rows = (spec.props.rows as unknown[][] | undefined) ?? [];
    const selection = spec.props.selection as "single" | "multi" | null | undefined;
    const pageSize = num(spec.props.page_size) ?? 10;
    const label = str(spec.props.label);
    let selected: number[] = [];
    let page = 0;
    const wrap = h("div", { class: "ui-table" });
    const table = h("table");
    if (label) table.append(h("caption", {}, label));
    const head = h("tr");
    if (selection) head.append(h("th", { scope: "col", "aria-label": "selected" }));
    for (const c of columns) head.append(h("th", { scope: "col" }, c));
    table.append(h("thead", {}, head));
    const body = h("tbody");
    table.append(body);
    const pager = h("div", { class: "ui-pager" });
    const name = uid("table");
    const draw = () => {
      body.replaceChildren();
      const first = page * pageSize;
      rows.slice(first, first + pageSize).forEach((row, offset) => {
        const index = first + offset;
        const tr = h("tr");
        if (selection) {
          const box = h("input", {
            type: selection === "single" ? "radio" : "checkbox",
            name,
            "aria-label": `select row ${index + 1}`,
          });
          box.checked = selected.includes(index);
          box.addEventListener("change", () => {
            if (selection === "single") selected = box.checked ? [index] : [];
            else selected = box.checked ? [...selected, index] : selected.filter((i) => i !== index);
            change([...selected], { immediate: true });
          });
          tr.append(h("td", {}, box));
        }
        for (const cell of row) tr.append(h("td", {}, cell === null ? "" : String(cell)));
        body.append(tr);
      });
      const pages = Math.max(1, Math.ceil(rows.length / pageSize));
      pager.replaceChildren();
      if (pages > 1) {
        const prev = h("button", { type: "button", disabled: page === 0 }, "‹ Prev");
        const next = h("button", { type: "button", disabled: page >= pages - 1 }, "Next ›");
        prev.addEventListener("click", () => {
          page -= 1;
          draw();
        });
        next.addEventListener("click", () => {
          page += 1;
          draw();
        });
        pager.append(prev, h("span", {}, ` ${page + 1} / ${pages} `), next);
      }
    };
    wrap.append(table, pager);
    const update = (value: unknown) => {
      selected = Array.isArray(value) ? (value as number[]) : [];
      draw();
    };
    update(spec.value);
    return { el: wrap, update };
  },

  form(spec, change) {
    const children = (spec.props.children as Array<UISpec & { key: string | null }> | undefined) ?? [];
    const label = str(spec.props.label);
    const form = h("form", { class: "ui-form" });
    if (label) form.append(h("div", { class: "ui-label" }, label));
    const values = new Map<string | null, unknown>();
    const childControls = new Map<string | null, Control>();
    for (const child of children) {
      values.set(child.key, child.value);
      const factory = controls[child.kind];
      if (!factory) continue;
      const control = factory(child, (value) => values.set(child.key, value));
      childControls.set(child.key, control);
      form.append(control.el);
    }
    const submit = h("button", { type: "submit", class: "ui-button" }, str(spec.props.submit_label, "Submit"));
    form.append(h("div", { class: "ui-row" }, submit));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const single = children.length === 1 && children[0].key === null;
      change(single ? values.get(null) : Object.fromEntries([...values].map(([k, v]) => [k ?? "", v])), {
        immediate: true,
      });
    });
    const update = (value: unknown) => {
      if (value === null || value === undefined) return;
      if (children.length === 1 && children[0].key === null) {
        values.set(null, value);
        childControls.get(null)?.update(value);
        return;
      }
      for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
        values.set(key, v);
        childControls.get(key)?.update(v);
      }
    };
    return { el: form, update };
  },

  progress(spec) {
    const total = num(spec.props.total);
    const label = str(spec.props.label);
    const bar = h("progress", { max: total ?? null, "aria-label": label || "progress" });
    const text = h("span", { class: "ui-value" });
    const update = (value: unknown) => {
      const n = num(value) ?? 0;
      if (total !== null) {
        bar.value = Math.min(n, total);
        text.textContent = `${formatNumber(n, 1)} / ${formatNumber(total, 1)}`;
      } else {
        text.textContent = formatNumber(n, 1);
      }
    };
    update(spec.value);
    return { el: labelled(label, bar, text), update };
  },
};

/** <amphi-ui>: one view of a kernel UI element. */
export class AmphiUI extends HTMLElement {
  private spec: UISpec | null = null;
  private store: UIStore | null = null;
  private control: Control | null = null;
  private unsubscribe: (() => void) | null = null;

  bind(spec: UISpec, store: UIStore): void {
    this.spec = spec;
    this.store = store;
    this.dataset.id = spec.id;
    this.dataset.kind = spec.kind;
    const factory = controls[spec.kind];
    if (!factory) {
      this.textContent = `[unsupported UI element: ${spec.kind}]`;
      return;
    }
    // The value in the bundle is the kernel's value when the cell displayed it.
    store.fromKernel(spec.id, spec.value);
    const current = store.has(spec.id) ? store.get(spec.id) : spec.value;
    this.control = factory({ ...spec, value: current }, (value, options) => store.set(spec.id, value, this, options));
    this.replaceChildren(this.control.el);
    if (this.isConnected) this.subscribe();
  }

  private subscribe(): void {
    if (this.unsubscribe || !this.spec || !this.store || !this.control) return;
    const control = this.control;
    this.unsubscribe = this.store.subscribe(this.spec.id, (value, origin) => {
      if (origin !== this) control.update(value);
    });
  }

  connectedCallback(): void {
    this.subscribe();
  }

  disconnectedCallback(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }
}

if (!customElements.get("amphi-ui")) customElements.define("amphi-ui", AmphiUI);

export function renderUIElement(spec: UISpec, store: UIStore): HTMLElement {
  const el = document.createElement("amphi-ui") as AmphiUI;
  el.bind(spec, store);
  return el;
}
