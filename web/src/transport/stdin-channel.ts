// `input()` replies across the stdin SharedArrayBuffer (cross-origin isolated pages only).
//
// The kernel's worker blocks in `Atomics.wait` while a cell waits in `input()`; the page cannot
// block (no `Atomics.wait` on a window's main thread), so a reply larger than the buffer goes in
// chunks, the page waiting (`Atomics.waitAsync`) for the worker to take each one:
//
//   Int32 header (STDIN_HEADER_BYTES): [state, chunk length, total length, chunk offset]
//   then STDIN_CAPACITY bytes: the chunk (UTF-8 bytes of the reply, split anywhere).
//
//   page                                         worker (in input())
//   state == WAITING: write chunk k, set         wakes on REPLY: copies the chunk at its offset,
//   [len, total, offset], state = REPLY, notify   sets state = WAITING, notifies; returns the
//   wait until state != REPLY, next chunk         decoded text once `total` bytes arrived
//
// A reply of up to STDIN_LIMIT bytes (UTF-8) arrives whole; a longer one is refused before any
// byte is sent: state = TOO_LARGE with its size in `total`, and the worker's `input()` raises a
// clear error naming both sizes (never a truncated reply).  An interrupt while waiting (or
// while chunks are in flight) sets state = INTERRUPTED: the worker's `input()` raises
// KeyboardInterrupt and the page stops sending.
import {
  STDIN_CAPACITY,
  STDIN_HEADER_BYTES,
  STDIN_INTERRUPTED,
  STDIN_LIMIT,
  STDIN_REPLY,
  STDIN_TOO_LARGE,
  STDIN_WAITING,
} from "./worker-contract";

const SLOTS = STDIN_HEADER_BYTES / 4;
const STATE = 0;
const LENGTH = 1;
const TOTAL = 2;
const OFFSET = 3;

/** A new stdin buffer: the header plus one chunk. */
export function createStdinBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(STDIN_HEADER_BYTES + STDIN_CAPACITY);
}

function headerOf(buffer: SharedArrayBuffer): Int32Array {
  return new Int32Array(buffer, 0, SLOTS);
}

/** Back to WAITING with an empty header. */
function clear(header: Int32Array): void {
  for (let slot = SLOTS - 1; slot >= 0; slot -= 1) Atomics.store(header, slot, 0);
  Atomics.notify(header, STATE);
}

type WaitAsync = (array: Int32Array, index: number, value: number, timeout?: number) => { async: boolean; value: Promise<unknown> | string };

/** Resolve once the state is no longer `value` (or after ~1 s, so callers can re-check). */
async function changeFrom(header: Int32Array, value: number): Promise<void> {
  if (Atomics.load(header, STATE) !== value) return;
  const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;
  if (typeof waitAsync === "function") {
    const result = waitAsync(header, STATE, value, 1000);
    if (result.async) await result.value;
  } else {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** The page's side: sends replies, interrupts a waiting `input()`. */
export class StdinWriter {
  private transfer = 0;

  constructor(readonly buffer: SharedArrayBuffer) {}

  /** A fresh worker: nothing waiting, nothing in flight. */
  reset(): void {
    this.transfer += 1;
    clear(headerOf(this.buffer));
  }

  /**
   * Send `text` to the `input()` waiting in the worker.  Resolves once the worker took the last
   * chunk, or when the transfer was cancelled (interrupt, reset).  Rejects, after telling the
   * worker (its `input()` raises), when the reply is longer than STDIN_LIMIT bytes.
   */
  async send(text: string): Promise<void> {
    const header = headerOf(this.buffer);
    const room = new Uint8Array(this.buffer, STDIN_HEADER_BYTES);
    const bytes = new TextEncoder().encode(text);
    const id = ++this.transfer;
    if (bytes.length > STDIN_LIMIT) {
      Atomics.store(header, LENGTH, 0);
      Atomics.store(header, TOTAL, Math.min(bytes.length, 0x7fffffff));
      Atomics.store(header, OFFSET, 0);
      Atomics.store(header, STATE, STDIN_TOO_LARGE);
      Atomics.notify(header, STATE);
      throw new Error(`the reply is ${bytes.length} bytes; input() accepts at most ${STDIN_LIMIT} bytes (UTF-8) here`);
    }
    let offset = 0;
    do {
      while (Atomics.load(header, STATE) === STDIN_REPLY) {
        if (id !== this.transfer) return;
        await changeFrom(header, STDIN_REPLY);
      }
      if (id !== this.transfer || Atomics.load(header, STATE) !== STDIN_WAITING) return;
      const length = Math.min(room.length, bytes.length - offset);
      room.set(bytes.subarray(offset, offset + length));
      Atomics.store(header, LENGTH, length);
      Atomics.store(header, TOTAL, bytes.length);
      Atomics.store(header, OFFSET, offset);
      Atomics.store(header, STATE, STDIN_REPLY);
      Atomics.notify(header, STATE);
      offset += length;
    } while (offset < bytes.length);
  }

  /** End the worker's wait with KeyboardInterrupt; a transfer in flight stops. */
  interrupt(): void {
    this.transfer += 1;
    const header = headerOf(this.buffer);
    Atomics.store(header, LENGTH, 0);
    Atomics.store(header, STATE, STDIN_INTERRUPTED);
    Atomics.notify(header, STATE);
  }
}

/**
 * The worker's side, inside `input()`: block until the whole reply arrived.  Returns the text,
 * `null` when the wait was interrupted, or the reply's size in bytes (a number) when the page
 * refused it for being longer than STDIN_LIMIT.
 */
export function readStdinReply(buffer: SharedArrayBuffer): string | number | null {
  const header = headerOf(buffer);
  const room = new Uint8Array(buffer, STDIN_HEADER_BYTES);
  let data: Uint8Array<ArrayBuffer> | null = null;
  let received = 0;
  for (;;) {
    while (Atomics.load(header, STATE) === STDIN_WAITING) Atomics.wait(header, STATE, STDIN_WAITING);
    const state = Atomics.load(header, STATE);
    if (state === STDIN_REPLY) {
      const length = Atomics.load(header, LENGTH);
      const total = Atomics.load(header, TOTAL);
      const offset = Atomics.load(header, OFFSET);
      if (total < 0 || total > STDIN_LIMIT || offset !== received || length < 0 || length > room.length || offset + length > total) {
        clear(header);
        throw new Error(`input(): a malformed reply chunk (offset ${offset}, length ${length}, total ${total}, received ${received})`);
      }
      if (data === null) data = new Uint8Array(total);
      data.set(room.subarray(0, length), offset);
      received += length;
      // Take the chunk unless the page interrupted meanwhile (then that wins, below).
      if (Atomics.compareExchange(header, STATE, STDIN_REPLY, STDIN_WAITING) !== STDIN_REPLY) continue;
      Atomics.notify(header, STATE);
      if (received >= total) return new TextDecoder().decode(data);
      continue;
    }
    const total = Atomics.load(header, TOTAL);
    clear(header);
    return state === STDIN_TOO_LARGE ? total : null;
  }
}
