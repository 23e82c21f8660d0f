// Chart outputs: Vega-Lite / Vega (vega-embed) and Plotly (plotly.js).  The first load has
// only their MIME types; each library is a chunk of its own (`lazy/vega.ts`, `lazy/plotly.ts`)
// that ./output.ts imports the first time a page shows such an output, so pages without charts
// never load them.  While a chunk loads, the output is an empty `.chart-output[aria-busy]`; if
// it cannot be drawn, a note and the bundle's next MIME type (e.g. `text/plain`) are shown.

/** Plotly's figure JSON (`{data, layout, config?, frames?}`). */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

// Altair 6 writes `application/vnd.vegalite.v6.json`, Jupyter's frontends `...v5+json`.
const versions = (kind: string, majors: number[]) =>
  majors.flatMap((v) => [`application/vnd.${kind}.v${v}+json`, `application/vnd.${kind}.v${v}.json`]);

/** Every chart MIME type, in the order a mimebundle's richest one is chosen: Vega-Lite then
 * Vega, newest first (one vega-lite compiler draws v4 to v6), then Plotly. */
export const CHART_MIMES = [...versions("vegalite", [6, 5, 4]), ...versions("vega", [6, 5]), PLOTLY_MIME];
