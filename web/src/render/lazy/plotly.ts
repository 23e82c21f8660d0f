// Plotly figures (`application/vnd.plotly.v1+json`: `{data, layout, config?, frames?}`)
// through the npm plotly.js-dist-min bundle: a chunk of its own (imported by ../output.ts the
// first time a page shows a figure).
//
// The figure is drawn once its element has a width (outputs are built before they are
// attached, and may sit in a hidden container), and redrawn to the element's width after.
// Links to Chart Studio are off; geo traces look for their topojson on this site (the
// default is a CDN), so nothing is fetched from elsewhere by the library itself.
import Plotly from "plotly.js-dist-min";

interface Figure {
  data?: unknown;
  layout?: unknown;
  config?: unknown;
  frames?: unknown;
}

function plainObject(value: unknown): Record<string, unknown> {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Wait until `el` is laid out with a width; rejects when `signal` aborts first. */
function whenSized(el: HTMLElement, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const observer = new ResizeObserver(() => {
      if (el.clientWidth > 0) {
        observer.disconnect();
        resolve();
      }
    });
    observer.observe(el);
    signal.addEventListener("abort", () => {
      observer.disconnect();
      reject(signal.reason);
    }, { once: true });
  });
}

/** Draw `figure` into `el`; resolves to the function that purges the plot.
 * @throws when the figure has no `data` list, or plotly.js cannot draw it. */
export async function renderPlotly(el: HTMLElement, figure: unknown, signal: AbortSignal): Promise<() => void> {
  const fig = plainObject(figure) as Figure;
  if (!Array.isArray(fig.data)) throw new Error("the figure has no data list");
  await whenSized(el, signal);
  const config = {
    ...plainObject(fig.config),
    responsive: false, // the observer below follows the element, not the window
    displaylogo: false,
    showLink: false,
    showSendToCloud: false,
    showEditInChartStudio: false,
    plotlyServerURL: "",
    topojsonURL: new URL("./topojson/", import.meta.url).href,
  };
  await Plotly.newPlot(el, {
    data: fig.data,
    layout: plainObject(fig.layout),
    config,
    ...(Array.isArray(fig.frames) ? { frames: fig.frames } : {}),
  } as Parameters<typeof Plotly.newPlot>[1]);
  let width = el.clientWidth;
  const observer = new ResizeObserver(() => {
    if (el.clientWidth > 0 && el.clientWidth !== width) {
      width = el.clientWidth;
      void Plotly.Plots.resize(el);
    }
  });
  observer.observe(el);
  return () => {
    observer.disconnect();
    Plotly.purge(el);
  };
}
