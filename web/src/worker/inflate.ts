// The memory snapshot's bytes, gunzipped off the kernel worker's thread (./memory-snapshot.ts).
//
// DecompressionStream inflates on the thread that reads it: in the kernel worker that is
// 150-200 ms of tasks (up to ~100 ms each) on the thread that also compiles the runtime's
// JavaScript, receives the streamed wasm and its network responses, so they all waited.  A
// small helper worker (a Blob URL: no extra download) reads the container's body (a
// transferred ReadableStream), inflates it when it starts with the gzip magic bytes, and posts
// the output back in 1 MiB ArrayBuffers (transferred, not copied); the kernel worker only copies
// them into place.  Where the helper cannot be started or the stream cannot be transferred the
// bytes are inflated on this thread as before.

/** Inflate (when gzip) the `body` posted to it; post Uint8Array batches, then null or {error}. */
const HELPER = `"use strict";
onmessage = async (event) => {
  const source = event.data.getReader();
  try {
    const first = await source.read();
    if (first.done) throw new Error("the memory snapshot is empty");
    const rest = new ReadableStream({
      start: (c) => c.enqueue(first.value),
      pull: async (c) => { const n = await source.read(); if (n.done) c.close(); else c.enqueue(n.value); },
      cancel: (r) => source.cancel(r),
    });
    const gzipped = first.value[0] === 0x1f && first.value[1] === 0x8b;
    const reader = (gzipped ? rest.pipeThrough(new DecompressionStream("gzip")) : rest).getReader();
    const BATCH = 1 << 20;
    let batch = new Uint8Array(BATCH), used = 0;
    const flush = () => {
      if (!used) return;
      const out = used === BATCH ? batch : batch.slice(0, used);
      postMessage(out, [out.buffer]);
      batch = new Uint8Array(BATCH);
      used = 0;
    };
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (let at = 0; at < value.length; ) {
        const n = Math.min(value.length - at, BATCH - used);
        batch.set(value.subarray(at, at + n), used);
        used += n;
        at += n;
        if (used === BATCH) flush();
      }
    }
    flush();
    postMessage(null);
  } catch (error) {
    postMessage({ error: error && error.message ? error.message : String(error) });
  }
  close();
};
`;

function offThread(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> | null {
  if (typeof Worker === "undefined" || typeof Blob === "undefined" || typeof URL.createObjectURL !== "function") return null;
  let url: string | null = null;
  let helper: Worker;
  try {
    url = URL.createObjectURL(new Blob([HELPER], { type: "text/javascript" }));
    helper = new Worker(url, { name: "amphikernel-inflate" });
  } catch {
    if (url) URL.revokeObjectURL(url);
    return null;
  }
  try {
    helper.postMessage(body, [body as unknown as Transferable]);
  } catch {
    helper.terminate(); // the stream cannot be transferred here: inflated on this thread
    URL.revokeObjectURL(url);
    return null;
  }
  const end = () => {
    helper.terminate();
    if (url) URL.revokeObjectURL(url), (url = null);
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      helper.onmessage = (event: MessageEvent<Uint8Array | null | { error: string }>) => {
        const message = event.data;
        if (message instanceof Uint8Array) controller.enqueue(message);
        else if (message === null) controller.close(), end();
        else controller.error(new Error(message.error)), end();
      };
      helper.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        controller.error(new Error(`the decompressing worker failed (${event.message || "it could not start"})`));
        end();
      };
    },
    cancel() {
      end();
    },
  });
}

function onThisThread(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const source = body.getReader();
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!reader) {
        const first = await source.read();
        if (first.done) throw new Error("the memory snapshot is empty");
        const rest = new ReadableStream<Uint8Array>({
          start: (c) => c.enqueue(first.value),
          pull: async (c) => {
            const next = await source.read();
            if (next.done) c.close();
            else c.enqueue(next.value);
          },
          cancel: (reason) => source.cancel(reason),
        });
        const gzipped = first.value[0] === 0x1f && first.value[1] === 0x8b;
        reader = (gzipped ? rest.pipeThrough(new DecompressionStream("gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>) : rest).getReader();
      }
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel(reason) {
      return (reader ?? source).cancel(reason);
    },
  });
}

/**
 * The bytes of `body`, gunzipped when they start with the gzip magic bytes (a server that sent
 * them with Content-Encoding: gzip has had the browser do it already).  Errors of the body
 * (a cancelled or failed download, a corrupt gzip stream) error the result.
 */
export function decompressed(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  return offThread(body) ?? onThisThread(body);
}
