const strictUTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * UTF-8 text of `bytes`, refusing malformed input with a `TypeError`. One decoder serves every
 * call: without `stream`, each decode stands alone.
 */
export const decodeStrictUTF8 = (bytes: Uint8Array): string => strictUTF8.decode(bytes);

/**
 * Reads a body stream to its end, or stops and cancels it past `maxBytes` (answering undefined).
 * Never trusts a declared length: the bytes are counted as they arrive.
 *
 * The cancellation is not awaited: on one branch of a cloned (teed) body it settles only once the
 * other branch is cancelled too, which may never happen.
 */
export async function readAtMost(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array | undefined> {
  if (!body) return new Uint8Array(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  return concat(chunks, size);
}

/**
 * Reads an async iterable of chunks (a Node `IncomingMessage`) to its end, or stops past
 * `maxBytes` (answering undefined). Stopping leaves the iterable as it is, neither drained nor
 * destroyed: destroying a Node request would cut the connection before the answer is sent.
 */
export async function readChunksAtMost(chunks: AsyncIterable<Uint8Array>, maxBytes: number): Promise<Uint8Array | undefined> {
  const iterator = chunks[Symbol.asyncIterator]();
  const read: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await iterator.next();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) return undefined;
    read.push(value);
  }
  return concat(read, size);
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
