// Vega-Lite and Vega outputs through vega-embed: a chunk of its own (imported by
// ../output.ts the first time a page shows such an output).
//
// Outputs are untrusted, so:
// * no action menu (`actions: false`: its "View Source" writes into a same-origin window);
// * `usermeta.embedOptions` of the spec are dropped (vega-embed lets them override ours);
// * expressions run in vega-interpreter (`ast: true`), never compiled into Functions;
// * data and images load only from this page's origin (or `data:` URLs); links (`href`
//   channel) keep vega's own URL check and open in a new window.
import embed, { type EmbedOptions } from "vega-embed";
import { expressionInterpreter } from "vega-interpreter";
import { loader as vegaLoader } from "vega";

export type VegaMode = "vega" | "vega-lite";

function safeLoader(): ReturnType<typeof vegaLoader> {
  const loader = vegaLoader({ mode: "http" });
  const sanitize = loader.sanitize.bind(loader);
  loader.sanitize = async (uri, options) => {
    const result = await sanitize(uri, options);
    if (options?.context === "href") return result;
    const url = new URL(result.href, document.baseURI);
    if (url.protocol !== "data:" && url.origin !== location.origin) {
      throw new Error(`not loaded: ${url.origin} is not this page's origin`);
    }
    return result;
  };
  return loader;
}

function withoutEmbedOptions(spec: Record<string, unknown>): Record<string, unknown> {
  const usermeta = spec.usermeta;
  if (!usermeta || typeof usermeta !== "object" || !("embedOptions" in usermeta)) return spec;
  const { embedOptions: _dropped, ...rest } = usermeta as Record<string, unknown>;
  return { ...spec, usermeta: rest };
}

/** The few `embed_options` of the output's metadata (Altair's renderer options) we honour. */
function pickOptions(metadata: Record<string, unknown>): EmbedOptions {
  const given = (metadata.embed_options ?? {}) as Record<string, unknown>;
  const picked: EmbedOptions = {};
  if (given.renderer === "svg" || given.renderer === "canvas") picked.renderer = given.renderer;
  if (typeof given.theme === "string") picked.theme = given.theme as EmbedOptions["theme"];
  for (const key of ["width", "height", "scaleFactor"] as const) {
    if (typeof given[key] === "number") picked[key] = given[key] as number;
  }
  if (typeof given.padding === "number") picked.padding = given.padding;
  return picked;
}

/** Draw `spec` into `el`; resolves to the function that tears the view down.
 * @throws when the spec is not an object or vega cannot parse or run it. */
export async function renderVega(
  el: HTMLElement,
  spec: unknown,
  mode: VegaMode,
  metadata: Record<string, unknown>,
): Promise<() => void> {
  if (!spec || typeof spec !== "object" || Array.isArray(spec)) throw new Error("the spec is not a JSON object");
  const result = await embed(el, withoutEmbedOptions(spec as Record<string, unknown>), {
    renderer: "svg",
    ...pickOptions(metadata),
    mode,
    actions: false,
    ast: true,
    expr: expressionInterpreter,
    loader: safeLoader(),
    tooltip: true,
  });
  return () => result.finalize();
}
