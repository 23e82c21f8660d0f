// Scenario 8 in a real browser: NaN and ±Infinity from the kernel (Pyodide in the real Web
// Worker, worker.js) through the page's real WorkerTransport and its TypeScript msgpack
// decoder (decodeFrame), and back through encodeFrame into the kernel.  Bundled with esbuild by
// tests/compat/browser.py; the page calls window.runCompat() and gets a report.
import type { Incoming } from "../../../web/src/transport/transport";
import { WorkerTransport } from "../../../web/src/transport/worker";

type Message = Incoming & Record<string, unknown>;

const seen: Message[] = [];
const waiters: Array<() => void> = [];

function waitFor(predicate: (m: Message) => boolean, from: number, ms: number, what = ""): Promise<Message> {
  return new Promise((resolve, reject) => {
    const last = () => seen.slice(from).map((m) => JSON.stringify(m).slice(0, 160)).join(" | ");
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; since: ${last()}`)), ms);
    const check = () => {
      const found = seen.slice(from).find(predicate);
      if (found) {
        clearTimeout(timer);
        resolve(found);
        return true;
      }
      return false;
    };
    const wait = () => {
      if (!check()) waiters.push(wait);
    };
    wait();
  });
}

function isNanInf(value: unknown): boolean {
  return Array.isArray(value) && value.length === 3 && Number.isNaN(value[0]) && value[1] === Infinity && value[2] === -Infinity;
}

async function runCompat(): Promise<Record<string, unknown>> {
  const transport = new WorkerTransport({
    worker: () => new Worker("./worker.js", { type: "module" }),
    init: { pyodideIndexURL: "./pyodide/", snapshot: false, memorySnapshot: false, autoInstall: false, patchHttp: false, indexURLs: [] },
  });
  transport.onNotification((m) => {
    seen.push(m as Message);
    for (const w of waiters.splice(0)) w();
  });
  await transport.connect();
  await waitFor((m) => m.type === "kernel-ready", 0, 120000);
  const code = [
    "from lifecycle.ui.base import UIElement",
    "from lifecycle import context as _ctx, protocol as _p",
    "class _AnyValue(UIElement):",
    "    kind = 'compat-any'",
    "el = _AnyValue(0.0)",
    "_ctx.current().emit(_p.CellOutput(cell_id='ui8', data={'application/json': {'v': [float('nan'), float('inf'), -float('inf')]}}))",
    "el.element_id",
  ].join("\n");
  let mark = seen.length;
  transport.send({ type: "execute-cells", cell_ids: ["ui8", "ui8r"], codes: [code, "repr(el.value)"] });
  await waitFor((m) => m.type === "completed-run" && (m.cell_ids as string[]).includes("ui8r"), mark, 60000);
  const outs = seen.slice(mark).filter((m) => m.type === "cell-output" && m.cell_id === "ui8");
  const json = outs.map((m) => (m.data as Record<string, unknown>)["application/json"]).find((d) => d !== undefined) as { v: unknown } | undefined;
  const idText = outs.map((m) => (m.data as Record<string, unknown>)["text/plain"]).find((d) => typeof d === "string") as string;
  const elementId = idText.replace(/'/g, "");

  mark = seen.length;
  transport.send({ type: "execute-cells", cell_ids: ["ui8k"], codes: ["globals()['el'].value = [float('nan'), float('inf'), -float('inf')]"] });
  const uiValue = await waitFor((m) => m.type === "ui-element-value" && m.element_id === elementId, mark, 60000, `ui-element-value ${elementId}`);

  mark = seen.length;
  transport.send({ type: "update-ui-element", values: { [elementId]: [NaN, Infinity, -Infinity] } });
  await waitFor((m) => m.type === "completed-run" && (m.cell_ids as string[]).includes("ui8r"), mark, 60000, "the re-run of ui8r");
  const back = seen.slice(mark).filter((m) => m.type === "cell-output" && m.cell_id === "ui8r").map((m) => (m.data as Record<string, unknown>)["text/plain"]);
  const errors = seen.filter((m) => m.type === "cell-error" || m.type === "kernel-error").map((m) => JSON.stringify(m).slice(0, 300));
  transport.close();
  return {
    python: (seen.find((m) => m.type === "kernel-ready") as Record<string, unknown> | undefined)?.python,
    notificationKeepsNanInf: isNanInf(json?.v),
    uiValueKeepsNanInf: isNanInf(uiValue.value),
    backToKernel: back,
    errors,
  };
}

(window as unknown as { runCompat: typeof runCompat }).runCompat = runCompat;
